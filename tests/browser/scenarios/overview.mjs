// The overview page: counts per status, failing and stale pipelines, active runs.
export default async function ({ page, base, args, shot }) {
  await page.goto(`${base}/`);
  await page.getByTestId("overview").waitFor();
  const counts = {};
  for (const el of await page.locator('[data-testid^="count-"]').all()) {
    const id = await el.getAttribute("data-testid");
    counts[id.slice("count-".length)] = Number((await el.locator("span.font-semibold").textContent()).replace(/,/g, ""));
  }
  await page.getByTestId("runs-24h").waitFor();
  await shot(args.shot ?? "overview");
  return {
    counts,
    failing: await page.locator('[data-testid="failing-list"] [data-testid="pipeline-link"]').allTextContents(),
    active: await page.locator('[data-testid="active"] [data-testid="run-row"]').count(),
  };
}
