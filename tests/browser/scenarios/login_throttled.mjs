// Too many failed sign-ins: wrong passwords for one user until the server answers 429; the
// login page then shows the API's own message and hint under a title that says to wait.
import { fillLogin } from "../signin.mjs";

export default async function ({ page, base, args, shot }) {
  await page.goto(`${base}/login/`);
  const answers = [];
  for (let attempt = 0; attempt < args.max_attempts; attempt++) {
    const answered = page.waitForResponse((r) => r.url().endsWith("/api/v1/auth/login"));
    await fillLogin(page, args.username, args.wrong_password);
    const response = await answered;
    answers.push(response.status());
    // The page has rendered this answer (its status on the error box) before the next try.
    await page.locator(`[data-testid="login-error"][data-status="${response.status()}"]`).waitFor();
    await page.getByTestId("login-submit").filter({ hasText: "Sign in" }).waitFor();
    if (response.status() === 429) {
      const body = await response.json();
      const error = page.getByTestId("login-error");
      await shot("login-throttled");
      return {
        answers, api: body.error,
        title: await error.locator("div").first().textContent(),
        message: await page.getByTestId("login-error-message").textContent(),
        hint: await page.getByTestId("login-error-hint").textContent(),
      };
    }
  }
  throw new Error(`no 429 after ${args.max_attempts} wrong passwords: ${answers}`);
}
