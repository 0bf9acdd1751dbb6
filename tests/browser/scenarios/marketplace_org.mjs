// The organisation admin's licence and usage pages (links from the marketplace page).
async function listed(page, rows, empty, unsupported) {
  await page.locator(`[data-testid="${rows}"], [data-testid="${empty}"], [data-testid="${unsupported}"], [data-testid="error-state"]`).first().waitFor();
  const error = await page.getByTestId("error-state").count() > 0
    ? await page.getByTestId("error-message").first().textContent() : null;
  return {
    error,
    unsupported: await page.getByTestId(unsupported).count() > 0,
    empty: await page.getByTestId(empty).count() > 0,
    rows: await page.getByTestId(rows).evaluateAll((els) => els.map((e) => ({ ...e.dataset }))),
  };
}

export default async function ({ page, base, args, shot }) {
  await page.goto(`${base}/marketplace/`);
  await page.getByTestId("link-licences").click();
  await page.getByTestId("licences-page").waitFor();
  await page.getByTestId("org-name").waitFor();
  const org = await page.getByTestId("org-name").textContent();
  const licences = await listed(page, "licence-row", "licences-empty", "licences-unsupported");
  await shot("marketplace-licences");
  await page.goto(`${base}/marketplace/usage/${args.period ? "" : ""}`);
  await page.getByTestId("usage-page").waitFor();
  if (args.period) await page.getByTestId("usage-period").fill(args.period);
  const usage = await listed(page, "usage-row", "usage-empty", "usage-unsupported");
  const invoices = await listed(page, "invoice-row", "invoices-empty", "invoices-unsupported");
  await shot("marketplace-usage");
  return { org, licences, usage, invoices };
}
