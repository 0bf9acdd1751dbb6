// Signed in as a runner: Run now and Pause on every pipeline, Retry on a finished run, no
// admin links, and no dead letters (that needs dead_letters.read).
export default async function ({ page, base, args, shot }) {
  await page.goto(`${base}/pipelines/`);
  await page.getByTestId("pipeline-row").first().waitFor();
  await page.getByTestId(`run-now-${args.pipeline}`).waitFor();
  const result = {
    pipelines: await page.getByTestId("pipeline-row").count(),
    runNow: await page.locator('[data-testid^="run-now-"]').count(),
    pause: await page.locator('[data-testid^="pause-"], [data-testid^="resume-"]').count(),
    navLinks: await page.locator('[data-testid^="nav-"]').evaluateAll((els) => els.map((e) => e.getAttribute("data-testid"))),
  };
  await shot("runner-pipelines");
  await page.goto(`${base}/run/?id=${encodeURIComponent(args.run_id)}`);
  await page.getByTestId("step-table").waitFor();
  await page.getByTestId("retry").waitFor();
  await page.getByTestId("dead-letters-denied").waitFor();
  result.retry = await page.getByTestId("retry").isVisible();
  await shot("runner-run");
  return result;
}
