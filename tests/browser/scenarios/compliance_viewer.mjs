// The compliance page as a viewer: the inventory, no erasure form, a note that the receipts
// need audit.read — and the API refuses an erasure sent with the viewer's own session.
export default async function ({ page, base, args, shot }) {
  const result = {};
  await page.goto(`${base}/compliance/`);
  await page.getByTestId("inventory-row").first().waitFor();
  await page.getByTestId("requests-forbidden").waitFor();
  result.inventory = await page.getByTestId("inventory-row").count();
  result.forms = await page.getByTestId("erase-form").count();
  result.requestsNote = await page.getByTestId("requests-forbidden").textContent();
  result.navLinks = await page.locator('[data-testid^="nav-"]').evaluateAll((els) => els.map((e) => e.getAttribute("data-testid")));
  await shot("compliance-viewer");
  result.erase = await page.evaluate(async (subject) => {
    const r = await fetch("/api/v1/privacy/erase", {
      method: "POST", credentials: "same-origin", body: JSON.stringify({ subject }),
      headers: { "Content-Type": "application/json", "X-Requested-With": "dteg" },
    });
    return { status: r.status, body: await r.json() };
  }, args.subject);
  return result;
}
