// Accessibility check of static pages in Debian's headless Chromium.
//
//   node axe.mjs CONFIG.json
//
// CONFIG: {"chromium": "/usr/bin/chromium", "pages": [{"name", "path" or "url",
// "width", "height", "screenshot"?}]}. For each page: opens it from disk at
// that viewport in a fresh profile, runs axe-core (every rule that is not
// experimental: WCAG 2.0/2.1 A and AA, and best practices), records the
// violations, console errors, requests that are not the page itself,
// horizontal overflow, and takes a screenshot of the viewport if asked
// (of the whole page with "fullPage": true). Prints one JSON
// document on stdout; the Rust test decides what fails.
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);
const axePath = require.resolve('axe-core/axe.min.js');
const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));

const profile = mkdtempSync(join(tmpdir(), 'vigie-axe-'));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: config.chromium,
  headless: true,
  // Debian's Chromium as root, and no traffic out of the machine.
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
         '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-dev-shm-usage'],
  // axe is injected as a script; the pages' CSP forbids scripts (as it should).
  bypassCSP: true,
  deviceScaleFactor: 1,
});

const results = [];
try {
  for (const p of config.pages) {
    const page = await context.newPage();
    await page.setViewportSize({ width: p.width, height: p.height });
    const consoleErrors = [];
    const requests = [];
    page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
    page.on('pageerror', (e) => consoleErrors.push(String(e)));
    // A file of the disk (`path`), or a page served live (`url`).
    const url = p.url ?? pathToFileURL(p.path).href;
    page.on('request', (r) => { if (r.url() !== url && !r.url().startsWith('data:')) requests.push(r.url()); });
    await page.goto(url, { waitUntil: 'load' });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    const lang = await page.evaluate(() => document.documentElement.lang);
    if (p.screenshot) {
      await page.screenshot({ path: p.screenshot, fullPage: Boolean(p.fullPage) });
    }
    await page.addScriptTag({ path: axePath });
    const axe = await page.evaluate(async () => {
      const r = await window.axe.run(document, { resultTypes: ['violations', 'passes'] });
      return {
        version: window.axe.version,
        passes: r.passes.length,
        violations: r.violations.map((v) => ({
          id: v.id, impact: v.impact, help: v.help,
          nodes: v.nodes.map((n) => n.target.join(' ')),
        })),
      };
    });
    results.push({ name: p.name, width: p.width, lang, overflow, consoleErrors, requests, ...axe });
    await page.close();
  }
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
process.stdout.write(JSON.stringify({ results }) + '\n');
