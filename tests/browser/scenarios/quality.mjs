// The quality page: every pipeline's last run (rules passed, dead-letter rate), one
// pipeline's runs and rule results over time, and each dataset's anomalies and schema changes.
export default async function ({ page, base, args, shot }) {
  const result = {};
  await page.goto(`${base}/quality/?pipeline=${encodeURIComponent(args.pipeline)}`);
  await page.getByTestId("quality-pipeline").first().waitFor();
  await page.getByTestId("quality-run").first().waitFor();
  await page.getByTestId("quality-rule").first().waitFor();
  await page.getByTestId("quality-dataset").first().waitFor();
  // Each row loads its own numbers: wait until every one has them.
  await page.waitForFunction(() => [...document.querySelectorAll('[data-testid="quality-dataset"]')]
    .every((e) => e.getAttribute("data-anomalies") !== ""));
  await page.waitForFunction(() => [...document.querySelectorAll('[data-testid="quality-pipeline"]')]
    .every((e) => e.getAttribute("data-loaded") === "true"));
  result.pipelines = Object.fromEntries(await page.getByTestId("quality-pipeline").evaluateAll((els) => els.map((e) => {
    const rules = e.querySelector('[data-testid="quality-rules-passed"]');
    return [e.getAttribute("data-pipeline"), { rules: rules.getAttribute("data-rules"), passed: rules.getAttribute("data-passed"),
      rate: e.querySelector('[data-testid="quality-dead-letter-rate"]').textContent }];
  })));
  result.runs = await page.getByTestId("quality-run").evaluateAll((els) => els.map((e) => ({
    id: e.getAttribute("data-run"), read: e.getAttribute("data-read"), loaded: e.getAttribute("data-loaded"),
    dead: e.getAttribute("data-dead"), rate: e.querySelector('[data-testid="quality-run-rate"]').textContent })));
  result.rules = (await page.getByTestId("quality-rule").evaluateAll((els) => els.map((e) => {
    const [name, status] = e.querySelectorAll("div > span");
    return `${name.textContent}|${status.textContent}`;
  }))).sort();
  result.datasets = Object.fromEntries(await page.getByTestId("quality-dataset").evaluateAll((els) => els.map((e) => [
    e.getAttribute("data-key"), { anomalies: e.getAttribute("data-anomalies"), changes: e.getAttribute("data-changes") }])));
  await shot("quality");
  await page.getByTestId("quality-dataset-toggle").first().click();
  await page.locator('[data-testid="dataset-volume-chart"], [data-testid="volume-empty"]').first().waitFor();
  await shot("quality-dataset-open");
  return result;
}
