// The compliance page as an admin: the PII inventory and retention per load, then an erasure
// filed through the form (ask, confirm) whose receipts appear among the recent requests.
export default async function ({ page, base, args, shot }) {
  const result = {};
  await page.goto(`${base}/compliance/`);
  await page.getByTestId("inventory-row").first().waitFor();
  await page.getByTestId("retention-row").first().waitFor();
  await page.locator('[data-testid="subject-request"], [data-testid="requests-empty"]').first().waitFor();
  result.inventory = await page.getByTestId("inventory-row").evaluateAll((els) => els.map((e) => ({
    key: e.getAttribute("data-key"),
    pii: Object.fromEntries([...e.querySelectorAll('[data-testid="pii-badge"]')].map((b) => [
      b.getAttribute("data-column"), [b.getAttribute("data-pii"), b.getAttribute("data-protection")]])),
  })));
  result.retention = await page.getByTestId("retention-row").evaluateAll((els) => els.map((e) => ({
    pipeline: e.getAttribute("data-pipeline"), step: e.getAttribute("data-step"), status: e.getAttribute("data-status") })));
  result.reasons = Object.fromEntries(await page.getByTestId("retention-row").evaluateAll((els) => els.map((e) => [
    `${e.getAttribute("data-pipeline")}.${e.getAttribute("data-step")}`, e.querySelector('[data-testid="retention-reason"]').textContent])));
  await shot("compliance");

  await page.getByTestId("erase-subject").fill(args.subject);
  await page.getByTestId("erase-submit").click();
  await page.getByTestId("erase-confirm").waitFor();
  result.confirmText = await page.getByTestId("erase-confirm-text").textContent();
  await shot("compliance-erase-confirm");
  await page.getByTestId("erase-confirm").click();
  const done = page.getByTestId("erase-result");
  await done.waitFor();
  result.requestId = await done.getAttribute("data-request");
  const request = page.locator(`[data-testid="subject-request"][data-request="${result.requestId}"]`);
  await request.waitFor();
  result.receipts = await request.getByTestId("request-receipt").evaluateAll((els) => els.map((e) => [
    e.getAttribute("data-dataset"), e.getAttribute("data-status")]));
  result.requestsText = await page.getByTestId("requests").textContent();
  result.subjectCleared = (await page.getByTestId("erase-subject").inputValue()) === "";
  await shot("compliance-erased");
  return result;
}
