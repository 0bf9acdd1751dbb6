// A pipeline's page: step graph, YAML, run history with charts, and "Validate a change".
export default async function ({ page, base, args, shot }) {
  await page.goto(`${base}/pipeline/?name=${encodeURIComponent(args.name)}`);
  await page.getByTestId("pipeline-page").waitFor();
  await page.getByTestId("dag-node").first().waitFor();
  await page.getByTestId("run-row").first().waitFor();
  await page.getByTestId("next-runs").or(page.getByTestId("schedule").getByTestId("empty")).waitFor();
  const result = {
    nodes: await page.getByTestId("dag-node").evaluateAll((els) => els.map((e) => e.getAttribute("data-id"))),
    yamlLines: await page.locator('[data-testid="yaml"] > div').count(),
    runs: await page.getByTestId("run-row").count(),
    durationChart: await page.getByTestId("chart-duration").count(),
    quality: await page.getByTestId("quality-rule").count(),
  };
  await shot(`pipeline-${args.name}`);
  await page.getByTestId("validate-input").fill(args.broken_yaml);
  await page.getByTestId("validate-button").click();
  await page.getByTestId("validate-result").waitFor();
  result.valid = await page.getByTestId("validate-result").getAttribute("data-valid");
  result.errors = await page.getByTestId("validate-error").allTextContents();
  await page.getByTestId("validate").screenshot({ path: `${args.artifacts}/pipeline-validate.png` });
  return result;
}
