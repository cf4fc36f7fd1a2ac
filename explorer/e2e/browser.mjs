// The explorer in headless Chromium (Debian's /usr/bin/chromium, driven by
// playwright-core), against a running `modelda node`. Run by the end-to-end
// test `explorer::` (tests/e2e/explorer.rs), which publishes the models and
// starts the server:
//
//   node e2e/browser.mjs --url http://127.0.0.1:PORT --out DIR --mode full \
//       --base ID --finetune ID --quantized ID --wide ID --a KEYHINT --b KEYHINT \
//       --base-name NAME --tensor-hash HASH
//   node e2e/browser.mjs --url ... --out DIR --mode corrupt --base ID --file PATH --tensor NAME
//   node e2e/browser.mjs --url ... --out DIR --mode advisories --base ID --finetune ID \
//       --quantized ID --status STATUS --report ADVISORY_ID
//   node e2e/browser.mjs --url ... --out DIR --mode verify --base ID --file PATH [--tensor NAME] \
//       --expect pass|fail [--says TEXT]
//
// Writes a screenshot of each page and figures.json (page weight, render
// times) to DIR. Exits non-zero, saying what failed, on the first failure,
// on any page error, and on any request that leaves the server's origin.

import { chromium } from 'playwright-core';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const opts = {};
for (let i = 2; i < process.argv.length; i += 2) opts[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];
const url = opts.url;
const out = opts.out;
if (!url || !out) {
  console.error('usage: node e2e/browser.mjs --url URL --out DIR --mode full|corrupt ...');
  process.exit(2);
}
mkdirSync(out, { recursive: true });
const origin = new URL(url).origin;
const wsOrigin = origin.replace(/^http/, 'ws');

const problems = [];
function check(ok, what) {
  if (!ok) throw new Error(`check failed: ${what}`);
  console.log(`ok: ${what}`);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--disable-quic',
    '--no-first-run',
  ],
});

let lastPage = null;

async function newPage(options = {}) {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 }, ...options });
  const page = await ctx.newPage();
  lastPage = page;
  page.on('request', (r) => {
    const u = r.url();
    if (!(u.startsWith(origin) || u.startsWith(wsOrigin) || u.startsWith('data:'))) problems.push(`request left the machine: ${u}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console error: ${m.text()}`);
  });
  return { ctx, page };
}

async function ready(page) {
  await page.waitForFunction(() => document.body.dataset.ready === 'true', null, { timeout: 30000 });
}

async function open(page, path) {
  await page.goto(origin + path);
  await ready(page);
}

async function shot(page, name) {
  const file = join(out, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  console.log(`screenshot: ${file}`);
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Milliseconds from navigation to the model page rendered with its tensor table. */
async function timeModelPage(page, id) {
  const t0 = Date.now();
  await page.goto(`${origin}/model/${id}`);
  await page.waitForFunction(() => document.body.dataset.ready === 'true' && document.querySelector('#tensor-summary, #claims-badge') !== null, null, { timeout: 30000 });
  return Date.now() - t0;
}

async function verify(page) {
  await page.click('#verify');
  await page.waitForSelector('#verdict[data-result]', { timeout: 60000 });
  return page.getAttribute('#verdict', 'data-result');
}

async function full() {
  const figures = {};
  const { page } = await newPage();
  // Home: status, feed, live subscription, and the page weight.
  const sizes = {};
  page.on('requestfinished', async (r) => {
    const u = new URL(r.url());
    if (u.pathname === '/' || u.pathname.startsWith('/assets/')) {
      const s = await r.sizes();
      sizes[u.pathname] = { encoded: s.responseBodySize, encoding: (await r.response())?.headers()['content-encoding'] ?? 'identity' };
    }
  });
  await open(page, '/');
  await page.waitForSelector('#feed li');
  await page.waitForFunction(() => (document.getElementById('feed-state')?.textContent ?? '').startsWith('Live'), null, { timeout: 30000 });
  check((await page.locator('#feed li').count()) === 5, 'the home page lists the publications');
  // The test publishes a model when asked: the live feed shows it.
  console.log('waiting for a publication');
  await page.waitForSelector('#feed li.live', { timeout: 120000 });
  check((await page.locator('#feed li').count()) === 6, 'a publication made while the page is open appears in the live feed');
  check((await page.textContent('.status')).includes('local'), 'the home page shows the layer');
  await shot(page, 'home');
  const assetBytes = (sizes['/assets/app.js']?.encoded ?? NaN) + (sizes['/assets/app.css']?.encoded ?? NaN);
  check(sizes['/assets/app.js']?.encoding === 'gzip', 'the script is served gzip-compressed');
  figures.page_weight_bytes = assetBytes + (sizes['/']?.encoded ?? 0);
  figures.js_css_gzip_bytes = assetBytes;
  check(assetBytes < 300 * 1024, `compressed JS and CSS ${assetBytes} bytes < 300 KB`);

  // Keyboard: skip link, then through the nav into the search box.
  await page.keyboard.press('Tab');
  check((await page.evaluate(() => document.activeElement?.className)) === 'skip', 'Tab reaches the skip link first');
  await page.focus('#q');
  await page.keyboard.type(opts.finetune);
  await page.keyboard.press('Enter');
  await ready(page);
  check(page.url().includes('/search?q='), 'Enter in the search box searches');
  await page.waitForSelector('section[aria-labelledby=r-model]');

  // Search by name, tensor hash and publisher key.
  await open(page, `/search?q=${encodeURIComponent(opts['base-name'])}`);
  check((await page.locator('#results a.model-link').count()) >= 1, 'a search by name finds the model');
  await shot(page, 'search');
  await open(page, `/search?q=${opts['tensor-hash']}`);
  check((await page.locator('section[aria-labelledby=r-tensor] li').count()) >= 1, 'a search by tensor hash finds the tensor');
  await open(page, `/search?q=${opts.a}`);
  check((await page.locator('section[aria-labelledby=r-pub]').count()) === 1, 'a search by key hint finds the publisher');

  // The model page: from the search result.
  await open(page, `/search?q=${opts.base}`);
  await page.click('section[aria-labelledby=r-model] a.model-link');
  await ready(page);
  check(page.url().endsWith(`/model/${opts.base}`), 'the search result opens the model');
  check((await page.getAttribute('#claims-badge', 'class')).split(' ').includes('proven'), 'the claims verify in the browser');
  check((await page.locator('#tensor-table tbody tr').count()) === 2, 'the tensor table lists the tensors');
  check((await page.locator('.publication').count()) === 2, 'the base model shows its publication and its attestation');
  check((await page.locator('.publication h3').allTextContents()).some((t) => t.startsWith('Attestation')), 'the attestation is labelled');
  check((await page.textContent('#pubs')).includes('utia'), 'publications show their fee');
  await shot(page, 'model');

  // The tensor table of 1,000 tensors: sort and filter.
  await open(page, `/model/${opts.wide}`);
  check((await page.textContent('#tensor-summary')).startsWith('1,000 of 1,000 tensors'), 'the wide model lists 1,000 tensors');
  check((await page.locator('#tensor-table tbody tr').count()) === 250, 'the table draws the first 250 rows');
  await page.click('button.more');
  check((await page.locator('#tensor-table tbody tr').count()) === 500, '"Show more" draws 250 more');
  await page.click('button.sort[data-key="name"]');
  await page.click('button.sort[data-key="name"]');
  const names = await page.$$eval('#tensor-table tbody td.name', (tds) => tds.map((td) => td.textContent ?? ''));
  check(names.every((n, i) => i === 0 || names[i - 1] >= n), 'a second click sorts by name descending');
  check(names[0] === 'blocks.99.ffn.w3', `the last name comes first (${names[0]})`);
  check((await page.getAttribute('button.sort[data-key="name"] >> xpath=..', 'aria-sort')) === 'descending', 'the sorted column says so');
  await page.fill('#tensor-filter', 'blocks.17.');
  await page.waitForFunction(() => (document.getElementById('tensor-summary')?.textContent ?? '').startsWith('4 of'));
  check((await page.locator('#tensor-table tbody tr').count()) === 4, 'the filter keeps the matching tensors only');
  await page.keyboard.press('Tab');
  check((await page.evaluate(() => document.activeElement?.getAttribute('role'))) === 'region', 'Tab moves from the filter to the table');
  await open(page, `/model/${opts.base}`);

  // A tensor, verified in the browser.
  await page.click('#tensor-table tbody tr:first-child td.name a');
  await ready(page);
  check(page.url().includes('tensor='), 'a tensor has its own URL');
  check((await verify(page)) === 'pass', 'the tensor verifies in the browser');
  await shot(page, 'verify-pass');
  // A whole file, too.
  await open(page, `/model/${opts.base}?file=config.json`);
  check((await verify(page)) === 'pass', 'a whole file verifies in the browser');

  // Lineage: three generations, proven edges, click through.
  await open(page, `/model/${opts.finetune}/lineage`);
  check((await page.locator('#lineage-graph a.node').count()) === 3, 'the lineage graph of the finetune has the three generations');
  check((await page.locator('#lineage-graph .edge.proven').count()) === 2, 'its two edges are proven');
  check((await page.textContent('#lineage-graph')).includes('finetune · '), 'edges carry their relation and evidence');
  await page.click(`#lineage-graph a.node[data-id="${opts.base}"]`);
  await ready(page);
  check(page.url().endsWith(`/model/${opts.base}`), 'a click on a node opens its model');
  // The base's descendants: the finetune, its quantized child, and the wide
  // model, which claims the base while sharing nothing with it.
  await open(page, `/model/${opts.base}/lineage`);
  check((await page.locator('#lineage-graph a.node').count()) === 4, 'the base has three descendants');
  check((await page.locator('#lineage-graph .edge.unproven').count()) === 1, 'the claim that shares nothing is drawn unproven');
  const dash = await page.$eval('#lineage-graph .edge.unproven path', (p) => getComputedStyle(p).strokeDasharray);
  check(dash !== 'none' && dash !== '', `unproven edges are dashed (${dash})`);
  await shot(page, 'lineage');
  await open(page, `/model/${opts.wide}/lineage`);
  check((await page.locator('#lineage-graph .edge.pending').count()) === 1, 'a parent nobody published is pending');
  check((await page.locator('#lineage-graph a.node.missing').count()) === 1, 'and its node is marked not indexed');
  // Keyboard: Tab reaches the nodes, Enter opens one.
  await page.focus('#lineage-graph a.node');
  await page.keyboard.press('Enter');
  await ready(page);
  check((await page.evaluate(() => document.body.dataset.page)) === 'model', 'Enter on a focused node opens a model');

  // Publishers: A published, B attested.
  await open(page, `/publisher/${opts.b}`);
  check((await page.locator('.badge.attested').count()) === 1, 'the second key attested the base');
  await open(page, `/publisher/${opts.a}`);
  check((await page.locator('.badge.published').count()) === 4, 'the first key published four models');
  await shot(page, 'publisher');
  await open(page, '/rejections');
  check((await page.locator('h1').textContent()) === 'Rejections', 'the rejections page renders');
  await shot(page, 'rejections');

  // GraphiQL, served by the binary: it renders and reads the schema from
  // this origin (a request elsewhere, or a script its policy refuses, is a
  // problem like on any page).
  const introspection = page.waitForResponse(
    (r) => r.url() === `${origin}/graphql` && r.request().method() === 'POST',
    { timeout: 30000 },
  );
  await page.goto(`${origin}/graphql`);
  await page.waitForSelector('.graphiql-container .graphiql-query-editor', { timeout: 30000 });
  check((await introspection).status() === 200, 'GraphiQL renders and asks the API for its schema');
  await shot(page, 'graphiql');

  // Model page of 1,000 tensors against one of a few: five runs each.
  const wide = [];
  const small = [];
  for (let i = 0; i < 5; i++) {
    wide.push(await timeModelPage(page, opts.wide));
    small.push(await timeModelPage(page, opts.base));
  }
  check((await page.evaluate(() => document.body.dataset.page)) === 'model', 'timed pages are model pages');
  await open(page, `/model/${opts.wide}`);
  figures.model_page_1000_tensors_ms = median(wide);
  figures.model_page_base_ms = median(small);
  figures.ratio_1000_vs_base = Math.round((median(wide) / median(small)) * 100) / 100;
  figures.tensor_table_render_ms = Number(await page.evaluate(() => document.body.dataset.tensorRenderMs));

  // 360 px wide, dark scheme: nothing overflows the page.
  const mobile = await newPage({ viewport: { width: 360, height: 740 }, colorScheme: 'dark', isMobile: true, hasTouch: true });
  await open(mobile.page, `/model/${opts.base}`);
  const overflow = await mobile.page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  check(overflow <= 0, `the model page fits 360 px (overflow ${overflow} px)`);
  const bg = await mobile.page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  check(bg === 'rgb(15, 18, 22)', `the dark scheme applies (${bg})`);
  await shot(mobile.page, 'model-360-dark');
  await open(mobile.page, `/model/${opts.finetune}/lineage`);
  await shot(mobile.page, 'lineage-360-dark');
  writeFileSync(join(out, 'figures.json'), JSON.stringify(figures, null, 2));
  console.log(`figures: ${JSON.stringify(figures)}`);
}

async function corrupt() {
  const { page } = await newPage();
  await open(page, `/model/${opts.base}?${new URLSearchParams({ file: opts.file, tensor: opts.tensor })}`);
  check((await verify(page)) === 'fail', 'a corrupted chunk fails the verification');
  check((await page.textContent('#verdict')).includes('BLAKE3'), 'the failure names the hash check');
  await shot(page, 'verify-fail');
}

/** Advisories: the banner on the advised model and on its descendant with evidence, none on a child without (--quantized), the advisory's page, a third-party report marked. */
async function advisories() {
  const { page } = await newPage();
  await open(page, `/model/${opts.base}`);
  const banner = page.locator('#advisory-banner');
  const shown = (await banner.count()) === 1;
  check(shown, `the advised model shows a banner${shown ? '' : `; the page says: ${(await page.innerText('#main')).slice(0, 600)}`}`);
  check((await banner.getAttribute('data-status')) === opts.status, `the banner says ${opts.status}`);
  check(await banner.isVisible(), 'the banner is visible');
  check((await page.locator('.badge.third-party').count()) >= 1, 'a third-party report is marked as such');
  await shot(page, 'advisory-banner');
  await open(page, `/model/${opts.finetune}`);
  check((await page.locator('.advisory-banner.lineage').count()) === 1, 'the finetune (shared tensors) shows the lineage banner');
  await open(page, `/model/${opts.quantized}`);
  check((await page.locator('.advisory-banner').count()) === 0, 'a child that shares nothing shows no banner');
  await open(page, `/model/${opts.base}`);
  await page.click('#advisory-banner a[href^="/advisory/"]');
  await ready(page);
  check((await page.evaluate(() => document.body.dataset.page)) === 'advisory', 'the banner links to the advisory page');
  check((await page.textContent('h1')).includes('poisoned data'), 'the advisory page says what it is');
  await shot(page, 'advisory');
  await open(page, `/advisory/${opts.report}`);
  check((await page.locator('#standing.third-party').count()) === 1, 'a third-party report says so on its page');
}

/** "Verify in this browser" on one file or tensor: the verdict expected, and what it says. */
async function verifyOne() {
  const { page } = await newPage();
  const q = { file: opts.file, ...(opts.tensor ? { tensor: opts.tensor } : {}) };
  await open(page, `/model/${opts.base}?${new URLSearchParams(q)}`);
  let got;
  let said;
  if (opts.expect === 'fail' && (await page.locator('#verify').count()) === 0) {
    // The page could not load the signed claims at all: it says why.
    got = 'fail';
    said = await page.evaluate(() => document.getElementById('main')?.innerText ?? '');
  } else {
    got = await verify(page);
    said = await page.textContent('#verdict');
  }
  check(got === opts.expect, `the verification gives "${opts.expect}" (got "${got}": ${said})`);
  if (opts.says) check(said.includes(opts.says), `the verdict says "${opts.says}" (${said})`);
  await shot(page, `verify-${opts.expect}`);
}

let code = 0;
try {
  if (opts.mode === 'corrupt') await corrupt();
  else if (opts.mode === 'verify') await verifyOne();
  else if (opts.mode === 'advisories') await advisories();
  else await full();
} catch (e) {
  console.error(e instanceof Error ? e.stack : String(e));
  if (lastPage) {
    console.error(`at ${lastPage.url()}, the page says:`);
    console.error(await lastPage.evaluate(() => document.getElementById('main')?.innerText ?? '').catch(() => '(no page)'));
    await lastPage.screenshot({ path: join(out, 'failure.png'), fullPage: true }).catch(() => undefined);
  }
  code = 1;
}
await browser.close();
// A refused chunk is logged by the browser as a failed load: expected
// when the verification is to fail.
const real = problems.filter((p) => !(opts.expect === 'fail' && p.includes('Failed to load resource')));
for (const p of real) console.error(p);
if (real.length > 0) code = 1;
process.exit(code);
