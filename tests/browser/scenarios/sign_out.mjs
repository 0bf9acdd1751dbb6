// Sign out from the header: the login page, and a protected page afterwards goes back there
// (the refresh cookie was revoked too, so the UI cannot quietly sign in again).
export default async function ({ page, base, args, shot }) {
  await page.goto(`${base}/pipelines/`);
  await page.getByTestId("pipeline-row").first().waitFor();
  await page.getByTestId("sign-out").click();
  await page.waitForURL((url) => url.pathname === "/login/");
  await page.getByTestId("login-form").waitFor();
  const afterSignOut = new URL(page.url()).pathname;
  const refresh = await page.evaluate(async () => (await fetch("/api/v1/auth/refresh", {
    method: "POST", headers: { "X-Requested-With": "dteg" } })).status);
  const target = `/run/?id=${encodeURIComponent(args.run_id)}`;
  await page.goto(`${base}${target}`);
  await page.waitForURL(/\/login\/\?next=/);
  await page.getByTestId("login-form").waitFor();
  await shot("signed-out");
  const url = new URL(page.url());
  return { afterSignOut, refresh, redirectedTo: url.pathname, next: url.searchParams.get("next"),
    cookies: (await page.context().cookies()).map((c) => c.name) };
}
