// Runs one browser scenario (scenarios/<name>.mjs) in Debian's chromium through
// playwright-core (from web/node_modules; Playwright never downloads a browser here) and
// prints one JSON line: {"ok": true, "result": …} or {"ok": false, "error": …}.
//   node tests/browser/run.mjs <scenario> '<json args: base, web, chromium, artifacts, timeout_ms, login, …>'
// With `login` ({username, password}) it signs in through the login page first.
import { createRequire } from "node:module";
import { mkdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { signIn } from "./signin.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const [, , scenario, json] = process.argv;
const args = JSON.parse(json);
const require = createRequire(path.join(args.web, "package.json"));
const { chromium } = require("playwright-core");

mkdirSync(args.artifacts, { recursive: true });
const browser = await chromium.launch({
  executablePath: args.chromium,
  headless: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync"],
});
const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
context.setDefaultTimeout(args.timeout_ms);
context.setDefaultNavigationTimeout(args.timeout_ms);
const page = await context.newPage();
const pageErrors = [];
const consoleErrors = [];
page.on("pageerror", (e) => pageErrors.push(String(e)));
page.on("console", (m) => { if (m.type() === "error") consoleErrors.push(m.text()); });
const shot = (name) => page.screenshot({ path: path.join(args.artifacts, `${name}.png`), fullPage: true });

let out;
try {
  const { default: run } = await import(path.join(here, "scenarios", `${scenario}.mjs`));
  if (args.login) await signIn(page, args.base, args.login);
  const result = await run({ page, base: args.base, args, shot });
  out = { ok: true, result, pageErrors, consoleErrors };
} catch (err) {
  await shot(`FAILED-${scenario}`).catch(() => {});
  const html = await page.content().catch(() => "");
  out = { ok: false, error: String(err?.stack ?? err), url: page.url(), pageErrors, consoleErrors,
    html: html.slice(0, 4000) };
} finally {
  await browser.close();
}
process.stdout.write(`${JSON.stringify(out)}\n`);
process.exitCode = out.ok ? 0 : 1;
