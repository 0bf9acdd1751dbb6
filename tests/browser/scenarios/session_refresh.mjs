// The access cookie lasts seconds on this server: once the browser drops it, the pipelines
// page's next poll is refused (401), the UI refreshes the session once (the refresh cookie)
// and asks again — the page stays, and a change (Run now) still works with the new cookie.
export default async function ({ page, base, args, shot }) {
  const seen = [];
  page.on("response", (r) => {
    const path = new URL(r.url()).pathname;
    if (path === "/api/v1/pipelines" || path === "/api/v1/auth/refresh") seen.push([path, r.status()]);
  });
  await page.goto(`${base}/pipelines/`);
  await page.getByTestId("pipeline-row").first().waitFor();
  const refreshed = await page.waitForResponse((r) => r.url().endsWith("/api/v1/auth/refresh") && r.status() === 200);
  const after = seen.length;
  // The request the refresh was for, asked again and answered.
  await page.waitForResponse((r) => new URL(r.url()).pathname === "/api/v1/pipelines" && r.status() === 200);
  await page.getByTestId(`run-now-${args.pipeline}`).click();
  await page.waitForURL(/\/run\/\?id=/);
  await page.getByTestId("run-status").waitFor();
  await shot("session-refreshed-run");
  return {
    refreshStatus: refreshed.status(),
    seen,
    afterRefresh: seen.slice(after),
    url: new URL(page.url()).pathname,
    runId: new URL(page.url()).searchParams.get("id"),
  };
}
