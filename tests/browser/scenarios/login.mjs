// Not signed in: a protected page sends the browser to the login page (keeping where it was
// going); a wrong password shows the API's error; the right one lands on `next`.
import { fillLogin } from "../signin.mjs";

export default async function ({ page, base, args, shot }) {
  const target = `/run/?id=${encodeURIComponent(args.run_id)}`;
  await page.goto(`${base}${target}`);
  await page.waitForURL(/\/login\/\?next=/);
  const redirected = new URL(page.url());
  await page.getByTestId("login-form").waitFor();
  await shot("login");

  const refused = page.waitForResponse((r) => r.url().endsWith("/api/v1/auth/login"));
  await fillLogin(page, args.username, args.wrong_password);
  const answer = await refused;
  const api = { status: answer.status(), body: await answer.json() };
  const error = page.getByTestId("login-error");
  await error.waitFor();
  await shot("login-wrong-password");
  const shown = {
    status: Number(await error.getAttribute("data-status")),
    message: await page.getByTestId("login-error-message").textContent(),
    hint: await page.getByTestId("login-error-hint").textContent().catch(() => null),
    passwordCleared: (await page.getByTestId("login-password").inputValue()) === "",
  };

  await fillLogin(page, args.username, args.password);
  await page.waitForURL((url) => url.pathname === "/run/");
  await page.getByTestId("run-page").waitFor();
  await page.locator('[data-testid="me-name"]', { hasText: args.username }).waitFor();
  await shot("login-landed-on-next");
  return {
    redirectedTo: redirected.pathname,
    next: redirected.searchParams.get("next"),
    api,
    shown,
    landed: new URL(page.url()).pathname + new URL(page.url()).search,
    runId: await page.getByTestId("run-page").getAttribute("data-run-id"),
  };
}
