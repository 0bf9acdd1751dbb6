// A viewer browses the marketplace but sees no organisation links, and the organisation's
// pages refuse with the permission it lacks.
export default async function ({ page, base, shot }) {
  await page.goto(`${base}/marketplace/`);
  await page.getByTestId("market-hit").first().waitFor();
  const navLinks = await page.locator('[data-testid^="nav-"]').evaluateAll((els) => els.map((e) => e.dataset.testid));
  const orgLinks = await page.locator('[data-testid="link-licences"], [data-testid="link-usage"]').count();
  await page.goto(`${base}/marketplace/licences/`);
  await page.getByTestId("error-state").waitFor();
  const licencesError = await page.getByTestId("error-message").first().textContent();
  await shot("marketplace-viewer-licences");
  await page.goto(`${base}/marketplace/usage/`);
  await page.getByTestId("error-state").waitFor();
  const usageError = await page.getByTestId("error-message").first().textContent();
  const rows = await page.locator('[data-testid="usage-row"], [data-testid="licence-row"]').count();
  return { navLinks, orgLinks, licencesError, usageError, rows };
}
