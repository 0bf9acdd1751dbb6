// Before any run: the catalog, quality and compliance pages say what to do, not a blank page.
export default async function ({ page, base, shot }) {
  const result = {};
  await page.goto(`${base}/catalog/`);
  result.catalog = await page.getByTestId("catalog-empty").textContent();
  await shot("catalog-empty");
  await page.goto(`${base}/quality/`);
  await page.getByTestId("quality-pipeline").first().waitFor();
  result.qualityDatasets = await page.getByTestId("quality-datasets-empty").textContent();
  result.rules = await page.getByTestId("quality-pass-rate").evaluateAll((els) => els.map((e) => e.textContent));
  await shot("quality-empty");
  await page.goto(`${base}/compliance/`);
  result.inventory = await page.getByTestId("inventory-empty").textContent();
  result.requests = await page.getByTestId("requests-empty").textContent();
  result.retention = await page.getByTestId("retention-row").count();
  await shot("compliance-empty");
  return result;
}
