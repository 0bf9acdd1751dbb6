// The quality page: every pipeline over its newest runs (rule pass rate, dead-letter rate,
// anomalies), one pipeline's runs and rule results per column over time, and each dataset's
// anomalies and schema changes, one opened (volume and freshness charts).
export default async function ({ page, base, args, shot }) {
  const result = {};
  await page.goto(`${base}/quality/?pipeline=${encodeURIComponent(args.pipeline)}`);
  await page.getByTestId("quality-pipeline").first().waitFor();
  await page.getByTestId("quality-run").first().waitFor();
  await page.getByTestId("quality-rule").first().waitFor();
  await page.getByTestId("quality-dataset").first().waitFor();
  // Each dataset row loads its own numbers: wait until every one has them.
  await page.waitForFunction(() => [...document.querySelectorAll('[data-testid="quality-dataset"]')]
    .every((e) => e.getAttribute("data-anomalies") !== ""));
  result.pipelines = Object.fromEntries(await page.getByTestId("quality-pipeline").evaluateAll((els) => els.map((e) => [
    e.getAttribute("data-pipeline"), { pass_rate: e.getAttribute("data-pass-rate"), dead_letter_rate: e.getAttribute("data-dead-letter-rate"),
      anomalies: e.getAttribute("data-anomalies"), shown: e.querySelector('[data-testid="quality-dead-letter-rate"]').textContent }])));
  result.runs = await page.getByTestId("quality-run").evaluateAll((els) => els.map((e) => ({
    id: e.getAttribute("data-run"), read: e.getAttribute("data-read"), loaded: e.getAttribute("data-loaded"),
    dead: e.getAttribute("data-dead"), rate: e.querySelector('[data-testid="quality-run-rate"]').textContent })));
  result.rules = Object.fromEntries(await page.getByTestId("quality-rule").evaluateAll((els) => els.map((e) => [
    e.getAttribute("data-rule"), [e.getAttribute("data-severity"), e.getAttribute("data-failed"), e.getAttribute("data-passed")]])));
  result.datasets = Object.fromEntries(await page.getByTestId("quality-dataset").evaluateAll((els) => els.map((e) => [
    e.getAttribute("data-key"), { anomalies: e.getAttribute("data-anomalies"), changes: e.getAttribute("data-changes") }])));
  await shot("quality");
  await page.locator(`[data-testid="quality-dataset"][data-key="${args.dataset}"]`).getByTestId("quality-dataset-toggle").click();
  await page.getByTestId("dataset-volume-chart").waitFor();
  await page.getByTestId("freshness-chart").waitFor();
  result.freshnessPoints = Number(await page.getByTestId("freshness-chart").getAttribute("data-points"));
  await shot("quality-dataset-open");
  return result;
}
