// A component's page: its documentation rendered (and nothing of the publisher's raw HTML
// run), versions, gate report, rating, reviews, install command; then its publisher's page.
export default async function ({ page, base, args, shot }) {
  await page.addInitScript(() => { window.__pwned = 0; });
  await page.goto(`${base}/marketplace/component/?name=${encodeURIComponent(args.component)}`);
  const root = page.getByTestId("component-page");
  await root.waitFor();
  await page.getByTestId("docs").waitFor();
  await page.locator('[data-testid="review"], [data-testid="reviews-empty"], [data-testid="reviews-unsupported"]').first().waitFor();
  await page.getByTestId("gate-table").waitFor();
  const docs = page.getByTestId("docs");
  const readme = {
    source: await docs.getAttribute("data-source"),
    sections: await page.getByTestId("doc-section").evaluateAll((els) => els.map((e) => e.dataset.section)),
    headings: await docs.locator("h3, h4, h5").allTextContents(),
    codeBlocks: await docs.locator("pre code").allTextContents(),
    links: await docs.locator("a").evaluateAll((els) => els.map((a) => a.getAttribute("href"))),
    unsafeLinks: await docs.getByTestId("md-unsafe-link").allTextContents(),
    scripts: await docs.locator("script, img, iframe").count(),
    text: await docs.textContent(),
  };
  const rating = page.getByTestId("component-page").locator('[data-testid="rating"]').first();
  const result = {
    readme,
    pwned: await page.evaluate(() => window.__pwned),
    install: await page.getByTestId("install-command").textContent(),
    compatFits: await page.getByTestId("compat").getAttribute("data-fits"),
    latest: await page.getByTestId("latest-version").textContent(),
    versions: await page.getByTestId("version-row").evaluateAll((els) => els.map((e) => e.dataset.version)),
    gates: await page.getByTestId("gate-row").evaluateAll((els) => Object.fromEntries(els.map((e) => [e.dataset.gate, e.dataset.status]))),
    rating: { average: await rating.getAttribute("data-average"), count: await rating.getAttribute("data-count"), text: await rating.textContent() },
    badges: await root.locator('[data-testid="badge"]').evaluateAll((els) => els.map((b) => b.dataset.badge)),
    reviews: await page.getByTestId("review").evaluateAll((els) => els.map((e) => ({ user: e.dataset.user, rating: Number(e.dataset.rating) }))),
  };
  await shot("marketplace-component");
  await page.getByTestId("publisher-link").click();
  await page.getByTestId("publisher-page").waitFor();
  await page.getByTestId("publisher-component").first().waitFor();
  result.publisher = {
    name: await page.getByTestId("publisher-page").getAttribute("data-publisher"),
    verified: await page.getByTestId("publisher-verified").count() > 0,
    components: await page.getByTestId("publisher-component").evaluateAll((els) => els.map((e) => e.dataset.component)),
    keys: await page.getByTestId("publisher-key").count(),
  };
  await shot("marketplace-publisher");
  return result;
}
