// A finished run's page: the step table's counts (for the test to compare with the API).
export default async function ({ page, base, args, shot }) {
  await page.goto(`${base}/run/?id=${encodeURIComponent(args.run_id)}`);
  await page.getByTestId("step-table").waitFor();
  await page.locator('[data-testid="log-state"][data-state="ended"]').waitFor();
  const num = (s) => Number(s.replace(/,/g, ""));
  const steps = await page.getByTestId("step-row").evaluateAll((rows) => rows.map((r) => ({
    step: r.getAttribute("data-step"),
    cells: ["rows-in", "rows-out", "dead-letter", "filtered", "loaded"]
      .map((id) => r.querySelector(`[data-testid="${id}"]`).textContent),
  })));
  await shot(args.shot ?? "run");
  return {
    status: await page.getByTestId("run-status").getAttribute("data-status"),
    steps: steps.map((s) => ({ step: s.step, rows_in: num(s.cells[0]), rows_out: num(s.cells[1]),
      dead_letter: num(s.cells[2]), filtered: num(s.cells[3]), loaded: num(s.cells[4]) })),
    reconciliation: await page.getByTestId("reconciliation").textContent().catch(() => null),
    lines: await page.getByTestId("log-line").count(),
    datasets: await page.getByTestId("dataset-ref").count(),
  };
}
