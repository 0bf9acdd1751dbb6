// A failed run's page: its error box with file:line, and that file:line opens the pipeline.
export default async function ({ page, base, args, shot }) {
  await page.goto(`${base}/run/?id=${encodeURIComponent(args.run_id)}`);
  const box = page.getByTestId("run-error");
  await box.waitFor();
  await page.locator('[data-testid="log-state"][data-state="ended"]').waitFor();
  // Retry shows once the pipeline's permissions have answered (runs.trigger).
  await page.getByTestId("retry").waitFor();
  const result = {
    status: await page.getByTestId("run-status").getAttribute("data-status"),
    location: await box.getByTestId("error-location").textContent(),
    step: await box.getByTestId("error-step").textContent().catch(() => null),
    message: await box.getByTestId("error-message").textContent(),
    retry: await page.getByTestId("retry").isVisible(),
  };
  await shot("run-failed");
  await box.getByTestId("error-location").click();
  await page.getByTestId("pipeline-page").waitFor();
  result.opened = new URL(page.url()).searchParams.get("name");
  return result;
}
