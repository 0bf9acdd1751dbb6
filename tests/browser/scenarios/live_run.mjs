// Press "Run now" on the pipelines page and follow the new run on its page: every status the
// badge shows and every log-line count is recorded by a MutationObserver, so the test sees the
// sequence (queued → running → succeeded) without polling from outside or reloading. Both runs
// are of a pipeline whose source waits at the test's gate (args.release: one request let
// through per call), so the page sees each state for as long as it needs, however fast runs are.
export default async function ({ page, base, args, shot }) {
  await page.addInitScript(() => {
    window.__pageId = Math.random();
    window.__statuses = [];
    window.__counts = [];
    const record = () => {
      const badge = document.querySelector('[data-testid="run-status"]');
      const status = badge?.getAttribute("data-status");
      if (status && window.__statuses.at(-1) !== status) window.__statuses.push(status);
      const count = document.querySelector('[data-testid="log-count"]');
      const n = count ? Number(count.textContent) : null;
      if (n !== null && window.__counts.at(-1) !== n) window.__counts.push(n);
    };
    new MutationObserver(record).observe(document, {
      subtree: true, childList: true, attributes: true, characterData: true,
    });
  });
  let loads = 0;
  page.on("load", () => { loads += 1; });
  await page.goto(`${base}/pipelines/`);
  const button = page.getByTestId(`run-now-${args.pipeline}`);
  await button.waitFor();
  const pageId = await page.evaluate(() => window.__pageId);
  await shot("pipelines-before-run");
  const release = async () => {
    const r = await page.request.get(args.release);
    if (!r.ok()) throw new Error(`the gate refused the release: ${r.status()}`);
  };
  // Occupy the server's one worker first (held at the gate), so the run the button starts
  // waits in the queue.
  const blocker = await page.evaluate(async (name) => {
    const r = await fetch(`/api/v1/pipelines/${name}/runs`, {
      // Signed in with the session cookie: a change needs the CSRF header, as the UI sends.
      method: "POST", headers: { "Content-Type": "application/json", "X-Requested-With": "dteg" },
      body: "{}" });
    return (await r.json()).id;
  }, args.blocker);
  await button.click();
  await page.waitForURL(/\/run\/\?id=/);
  await page.getByTestId("run-status").waitFor();
  const runId = new URL(page.url()).searchParams.get("id");
  // Queued behind the held blocker: seen, then the blocker goes on and finishes.
  await page.locator('[data-testid="run-status"][data-status="queued"], [data-testid="run-status"][data-status="dispatched"]').waitFor();
  await release();
  // This run now holds the worker and waits at the gate: running until released.
  await page.locator('[data-testid="run-status"][data-status="running"]').waitFor();
  await shot("run-live");
  await release();
  await page.locator('[data-testid="run-status"][data-status="succeeded"], [data-testid="run-status"][data-status="failed"], [data-testid="run-status"][data-status="cancelled"]').waitFor();
  await page.locator('[data-testid="log-state"][data-state="ended"]').waitFor();
  await page.getByTestId("step-table").waitFor();
  await shot("run-live-finished");
  return {
    runId,
    blocker,
    loads,
    samePage: pageId === (await page.evaluate(() => window.__pageId)),
    statuses: await page.evaluate(() => window.__statuses),
    counts: await page.evaluate(() => window.__counts),
    lines: await page.getByTestId("log-line").count(),
  };
}
