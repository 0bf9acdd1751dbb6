// The lineage page: the dataset ↔ pipeline graph and one card per dataset.
export default async function ({ page, base, shot }) {
  await page.goto(`${base}/lineage/`);
  await page.getByTestId("lineage-dag").waitFor();
  await page.getByTestId("dataset").first().waitFor();
  const datasets = await page.getByTestId("dataset").evaluateAll((els) => els.map((e) => ({
    id: e.getAttribute("data-dataset"),
    producers: [...e.querySelectorAll('[data-testid="pipeline-link"]')].map((a) => a.textContent),
  })));
  await shot("lineage");
  return { datasets, nodes: await page.getByTestId("dag-node").count() };
}
