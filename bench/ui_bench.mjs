// The browser half of bench/ui_bench.py: Debian's chromium through playwright-core (from
// web/node_modules; Playwright never downloads a browser here). One JSON line per result.
//   node bench/ui_bench.mjs fcp '{"web", "chromium", "urls": [...], "ready": "<css>"}'
//     each URL in a fresh context (cold cache): first-contentful-paint, and when `ready`
//     (the page's data) is in the DOM, both in ms from the navigation's start.
//   node bench/ui_bench.mjs lag '{"web", "chromium", "url", "end": "<text>"}'
//     opens the URL, prints {"ready": true} once the log stream is live, then records
//     (Date.now(), text) of every log line the page adds until a line containing `end`.
import { createRequire } from "node:module";
import path from "node:path";

const [, , mode, json] = process.argv;
const args = JSON.parse(json);
const require = createRequire(path.join(args.web, "package.json"));
const { chromium } = require("playwright-core");
const say = (value) => process.stdout.write(`${JSON.stringify(value)}\n`);

const browser = await chromium.launch({
  executablePath: args.chromium,
  headless: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync"],
});
try {
  if (mode === "fcp") {
    for (const url of args.urls) {
      const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
      const page = await context.newPage();
      await page.addInitScript((ready) => {
        window.__ready = null;
        const look = () => {
          if (window.__ready === null && ready && document.querySelector(ready)) {
            window.__ready = performance.now();
          }
        };
        new MutationObserver(look).observe(document, { subtree: true, childList: true });
      }, args.ready ?? "");
      await page.goto(url, { waitUntil: "load", timeout: 60000 });
      if (args.ready) await page.locator(args.ready).first().waitFor({ timeout: 60000 });
      const fcp = await page.waitForFunction(() => {
        const e = performance.getEntriesByName("first-contentful-paint")[0];
        return e ? e.startTime : null;
      }, null, { timeout: 60000 }).then((h) => h.jsonValue());
      const ready = await page.evaluate(() => window.__ready);
      const nav = await page.evaluate(() => {
        const n = performance.getEntriesByType("navigation")[0];
        return { ttfb: n.responseStart, dcl: n.domContentLoadedEventEnd, load: n.loadEventEnd };
      });
      say({ url, fcp, ready, ...nav });
      await context.close();
    }
  } else if (mode === "lag") {
    const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
    const page = await context.newPage();
    await page.addInitScript(() => {
      window.__shown = [];
      const seen = new WeakSet();
      new MutationObserver(() => {
        const now = Date.now();
        for (const el of document.querySelectorAll('[data-testid="log-line"]')) {
          if (!seen.has(el)) { seen.add(el); window.__shown.push([now, el.textContent]); }
        }
      }).observe(document, { subtree: true, childList: true });
    });
    await page.goto(args.url, { waitUntil: "load", timeout: 60000 });
    await page.locator('[data-testid="log-state"][data-state="live"]').waitFor({ timeout: 60000 });
    say({ ready: true });
    await page.waitForFunction((end) => window.__shown.some(([, t]) => t.includes(end)),
      args.end, { timeout: 600000, polling: 200 });
    say({ shown: await page.evaluate(() => window.__shown) });
    await context.close();
  }
} catch (err) {
  say({ error: String(err?.stack ?? err) });
  process.exitCode = 1;
} finally {
  await browser.close();
}
