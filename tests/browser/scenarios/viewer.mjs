// Signed in as a viewer: no Run now, Pause or Cancel/Retry anywhere, no admin links, the
// validate box still there, and the run page says why the dead letters are not shown —
// without asking the API for them.
export default async function ({ page, base, args, shot }) {
  const deadLetterCalls = [];
  page.on("request", (r) => { if (r.url().includes("/dead-letters")) deadLetterCalls.push(r.url()); });
  const actions = () => page.locator('[data-testid^="run-now-"], [data-testid^="pause-"], [data-testid^="resume-"]').count();
  const result = {};

  await page.goto(`${base}/pipelines/`);
  await page.getByTestId("pipeline-row").first().waitFor();
  result.pipelines = await page.getByTestId("pipeline-row").count();
  result.pipelineActions = await actions();
  result.navLinks = await page.locator('[data-testid^="nav-"]').evaluateAll((els) => els.map((e) => e.getAttribute("data-testid")));
  result.name = await page.getByTestId("me-name").textContent();
  await shot(args.shot_prefix ? `${args.shot_prefix}-pipelines` : "viewer-pipelines");

  await page.goto(`${base}/pipeline/?name=${encodeURIComponent(args.pipeline)}`);
  await page.getByTestId("pipeline-page").waitFor();
  await page.getByTestId("dag-node").first().waitFor();
  await page.getByTestId("validate").waitFor();
  result.pipelinePageActions = await actions();
  result.validateReadOnly = await page.getByTestId("validate-read-only").isVisible();
  await shot(args.shot_prefix ? `${args.shot_prefix}-pipeline` : "viewer-pipeline");

  await page.goto(`${base}/run/?id=${encodeURIComponent(args.run_id)}`);
  await page.getByTestId("step-table").waitFor();
  await page.getByTestId("dead-letters-denied").waitFor();
  result.deadLetterNote = await page.getByTestId("dead-letters-denied").textContent();
  result.runButtons = await page.locator('[data-testid="cancel"], [data-testid="retry"]').count();
  await shot(args.shot_prefix ? `${args.shot_prefix}-run` : "viewer-run");

  for (const where of ["audit", "admin"]) {
    await page.goto(`${base}/${where}/`);
    await page.getByTestId("forbidden").waitFor();
    result[`${where}Forbidden`] = await page.getByTestId("forbidden").textContent();
  }
  await shot(args.shot_prefix ? `${args.shot_prefix}-admin-forbidden` : "viewer-admin-forbidden");
  result.deadLetterCalls = deadLetterCalls;
  return result;
}
