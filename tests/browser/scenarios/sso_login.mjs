// Single sign-on in a real browser: dteg's /api/v1/auth/oidc/login sends Chromium to the
// OpenID provider, whose login form is filled as args.user; the provider sends it back to
// dteg's callback, which sets the session cookies and lands on the UI at `/`. Then the page
// itself asks /api/v1/auth/me (with its cookies) who is signed in.
export default async function ({ page, base, args, shot }) {
  const seen = [];
  page.on("framenavigated", (frame) => { if (frame === page.mainFrame()) seen.push(frame.url()); });
  await page.goto(`${base}/api/v1/auth/oidc/login?next=/`);
  await page.locator("#username").waitFor();
  const provider = new URL(page.url()).origin;
  await shot("sso-1-provider-login");
  await page.fill("#username", args.user);
  await page.fill("#password", args.password);
  await shot("sso-2-form-filled");
  await Promise.all([
    page.waitForURL((url) => url.origin === base && url.pathname === "/"),
    page.click("#submit"),
  ]);
  await page.waitForLoadState("load");
  await shot("sso-3-back-on-the-ui");
  const me = await page.evaluate(async () => {
    const answer = await fetch("/api/v1/auth/me", { credentials: "same-origin" });
    return { status: answer.status, body: await answer.json() };
  });
  return { provider, landed: page.url(), seen, me };
}
