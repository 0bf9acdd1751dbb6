// Signing in through the real login page: the context keeps the session cookies (HttpOnly
// dteg_access and dteg_refresh), so every page the scenario opens afterwards is signed in.

/** Fills the login form at /login/ (with `next` when given) and waits for the page it leads
 * to, signed in: the header shows the user's name. */
export async function signIn(page, base, { username, password }, next = "/") {
  const target = next === "/" ? "/login/" : `/login/?next=${encodeURIComponent(next)}`;
  await page.goto(`${base}${target}`);
  await fillLogin(page, username, password);
  // Signed in (the page leaves /login/), or refused: then fail at once with the page's words.
  const refused = page.getByTestId("login-error");
  await Promise.race([page.waitForURL((url) => !url.pathname.startsWith("/login")), refused.waitFor()]);
  if (new URL(page.url()).pathname.startsWith("/login")) {
    throw new Error(`could not sign in as ${username}: ${await refused.textContent()}`);
  }
  await page.locator('[data-testid="me-name"]', { hasText: username }).waitFor();
}

/** Types the credentials into the login form and submits it (no waiting for the answer). */
export async function fillLogin(page, username, password) {
  await page.getByTestId("login-form").waitFor();
  await page.getByTestId("login-username").fill(username);
  await page.getByTestId("login-password").fill(password);
  await page.getByTestId("login-submit").click();
}
