// The catalog: every dataset with its PII badges, the personal-data-only filter, then one
// loaded dataset's page (columns, row counts per run, writers) and its source's (profile).
export default async function ({ page, base, args, shot }) {
  const result = {};
  await page.goto(`${base}/catalog/`);
  await page.getByTestId("catalog-row").first().waitFor();
  result.rows = await page.getByTestId("catalog-row").evaluateAll((els) => els.map((e) => ({
    key: e.getAttribute("data-key"),
    pii: Object.fromEntries([...e.querySelectorAll('[data-testid="pii-badge"]')].map((b) => [
      b.getAttribute("data-column"), [b.getAttribute("data-pii"), b.getAttribute("data-protection")]])),
  })));
  await shot("catalog");

  // The box follows the URL (?pii=true), which the click changes; the list shows the answer
  // to the filtered request once its marker says so.
  await page.getByTestId("catalog-pii").click();
  await page.waitForURL((u) => u.search.includes("pii=true"));
  await page.locator('[data-testid="catalog-answer"][data-pii="true"]').waitFor({ state: "attached" });
  await page.waitForFunction(() => document.querySelector('[data-testid="catalog-pii"]').checked);
  result.piiOnly = (await page.getByTestId("catalog-row").evaluateAll((els) => els.map((e) => e.getAttribute("data-key")))).sort();
  await shot("catalog-pii-only");

  await page.goto(`${base}/catalog/dataset/?key=${encodeURIComponent(args.key)}`);
  await page.getByTestId("column-row").first().waitFor();
  await page.locator('[data-testid="volume-chart"], [data-testid="volume-empty"]').first().waitFor();
  result.dataset = {
    columns: Object.fromEntries(await page.getByTestId("column-row").evaluateAll((els) => els.map((e) => [
      e.getAttribute("data-column"), [e.getAttribute("data-pii"), e.getAttribute("data-protection")]]))),
    writers: (await page.getByTestId("dataset-writer").evaluateAll((els) => els.map((e) => e.getAttribute("data-pipeline")))).sort(),
    rows: (await page.getByTestId("dataset-rows").textContent()).trim(),
    volumePoints: Number(await page.getByTestId("volume-chart").getAttribute("data-points")),
  };
  await shot("catalog-dataset");

  await page.goto(`${base}/catalog/dataset/?key=${encodeURIComponent(args.source)}`);
  await page.getByTestId("column-row").first().waitFor();
  const profileText = await page.getByTestId("profile-source").textContent();
  result.source = {
    profiled: profileText.startsWith("Profile of run"),
    nullShare: Object.fromEntries(await page.getByTestId("column-row").evaluateAll((els) => els.map((e) => [
      e.getAttribute("data-column"), e.querySelector('[data-testid="profile-null"]').textContent]))),
  };
  await shot("catalog-source");
  return result;
}
