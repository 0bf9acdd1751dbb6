// An admin's audit page: the newest entries (run triggers, sign-ins), and "Verify the chain".
export default async function ({ page, base, shot }) {
  await page.goto(`${base}/`);
  await page.getByTestId("nav-audit").click();
  await page.getByTestId("audit-row").first().waitFor();
  const rows = await page.getByTestId("audit-row").evaluateAll((els) => els.map((e) => ({
    seq: Number(e.getAttribute("data-seq")), action: e.getAttribute("data-action"),
    actor: e.getAttribute("data-actor"), result: e.getAttribute("data-result"),
    resource: e.getAttribute("data-resource"),
  })));
  await page.getByTestId("audit-verify").click();
  const verdict = page.getByTestId("audit-verify-result");
  await verdict.waitFor();
  await shot("audit");
  return {
    rows,
    older: await page.getByTestId("audit-older").count(),
    exportHref: await page.getByTestId("audit-export").getAttribute("href"),
    ok: await verdict.getAttribute("data-ok"),
    status: await page.getByTestId("audit-verify-status").textContent(),
    verdict: await verdict.textContent(),
  };
}
