// The marketplace search: every component first, then the `kind` filter chosen in its
// select, then a text search. Returns what each list showed (names, rating, badges, tier).
async function hits(page) {
  const rows = page.getByTestId("market-hit");
  return rows.evaluateAll((els) => els.map((el) => ({
    name: el.dataset.component,
    rating: el.querySelector('[data-testid="rating"]')?.dataset.average ?? null,
    ratingCount: el.querySelector('[data-testid="rating"]')?.dataset.count ?? null,
    badges: [...el.querySelectorAll('[data-testid="badge"]')].map((b) => b.dataset.badge),
    tier: el.querySelector('[data-testid="tier"]')?.dataset.tier ?? null,
    pricing: el.querySelector('[data-testid="price"]')?.dataset.pricing ?? null,
    downloads: el.querySelector('[data-testid="hit-downloads"]')?.dataset.downloads ?? null,
  })));
}

/** Waits until the results section lists exactly `count` components (or says none match). */
async function settled(page, count) {
  await page.waitForFunction((n) => {
    const section = document.querySelector('[data-testid="market-results"]');
    if (!section || document.querySelector('[data-testid="loading"]')) return false;
    return section.querySelectorAll('[data-testid="market-hit"]').length === n
      || (n === 0 && section.querySelector('[data-testid="market-empty"]') !== null);
  }, count);
}

export default async function ({ page, base, args, shot }) {
  await page.goto(`${base}/marketplace/`);
  await page.getByTestId("nav-marketplace").waitFor();
  await settled(page, args.all);
  const all = await hits(page);
  const registry = await page.getByTestId("market-registry").textContent();
  await shot("marketplace-search");
  await page.getByTestId("filter-kind").selectOption(args.kind);
  await page.waitForURL((url) => url.searchParams.get("kind") === args.kind);
  await settled(page, args.kindCount);
  const byKind = await hits(page);
  await shot("marketplace-search-kind");
  await page.goto(`${base}/marketplace/`);
  await settled(page, args.all);
  await page.getByTestId("market-q").fill(args.text);
  await page.getByTestId("market-go").click();
  await page.waitForURL((url) => url.searchParams.get("q") === args.text);
  await settled(page, args.textCount);
  const byText = await hits(page);
  await page.getByTestId("filter-badge").selectOption(args.badge);
  await page.waitForURL((url) => url.searchParams.get("badge") === args.badge);
  await settled(page, args.badgeCount);
  const byBadge = await hits(page);
  return { all, byKind, byText, byBadge, registry };
}
