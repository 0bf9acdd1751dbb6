// The pipelines table: one row per pipeline with its status badge.
export default async function ({ page, base, shot }) {
  await page.goto(`${base}/pipelines/`);
  await page.getByTestId("pipeline-table").waitFor();
  const rows = await page.getByTestId("pipeline-row").evaluateAll((els) => els.map((r) => ({
    name: r.getAttribute("data-pipeline"),
    status: r.querySelector('[data-testid="status-badge"]')?.getAttribute("data-status"),
    sparkline: Boolean(r.querySelector('[data-testid="sparkline"]')),
  })));
  await shot("pipelines");
  return { rows };
}
