// Drives dossier-console in a real headless Chromium (Debian's `chromium`) through puppeteer-core
// and prints one JSON object on stdout for tests/console_browser_test.cc to check:
//   pages:   for each page, the HTTP status, every console message, page error, failed or
//            refused request, the text of every element with an id, and a full-page screenshot
//            (OUT_DIR/<name>.png);
//   actions: a POST without a session, sign-in through the form, an action whose CSRF field was
//            removed, and a resync clicked on the dossier page (the HTTP status of each).
// DS_TOOLS_DIR: the directory whose node_modules holds puppeteer-core.
// Usage: node console_check.mjs pages|actions BASE_URL OPERATOR_TOKEN DOSSIER_CODE OUT_DIR [CHROMIUM]
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(process.env.DS_TOOLS_DIR + '/');
const puppeteer = require('puppeteer-core');

const [mode, base, token, code, outDir, chromium = '/usr/bin/chromium'] = process.argv.slice(2);
fs.mkdirSync(outDir, { recursive: true });

const browser = await puppeteer.launch({
  executablePath: chromium,
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run',
         '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const result = { pages: {}, actions: {} };

// A page with every kind of problem recorded.
async function open() {
  const page = await browser.newPage();
  await page.setViewport({ width: 1280, height: 900 });
  const problems = [];
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warn' || m.type() === 'warning') {
      problems.push(`console ${m.type()}: ${m.text()}`);
    }
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`));
  page.on('response', (r) => {
    if (r.status() >= 400 && r.request().resourceType() !== 'document') {
      problems.push(`HTTP ${r.status()}: ${r.url()}`);
    }
  });
  return { page, problems };
}

async function ids(page) {
  return page.evaluate(() => {
    const out = {};
    for (const e of document.querySelectorAll('[id]')) out[e.id] = e.textContent.trim();
    return out;
  });
}

async function visit(name, url) {
  const { page, problems } = await open();
  const resp = await page.goto(base + url, { waitUntil: 'networkidle0' });
  const shot = path.join(outDir, `${name}.png`);
  await page.screenshot({ path: shot, fullPage: true });
  result.pages[name] = {
    url, status: resp.status(), problems, ids: await ids(page), screenshot: shot,
    lang: await page.evaluate(() => document.documentElement.lang),
    marked: await page.evaluate(() =>
      [...document.querySelectorAll('tr.differs')].map((r) => r.dataset.field)),
  };
  await page.close();
}

const dossier = `/dossier?code=${encodeURIComponent(code)}`;
if (mode === 'pages') {
await visit('overview', '/');
await visit('overview-en', '/?lang=en');
await visit('drift', '/drift');
await visit('dossier', dossier);
await visit('dead-letters', '/dead-letters');
await visit('runs', '/runs');
await visit('signin', '/signin');
}

// An action without a session: a form posted from the console's own page.
if (mode === 'actions') {
  const { page } = await open();
  await page.goto(base + dossier, { waitUntil: 'networkidle0' });
  result.actions.resync_form_without_session = await page.$('form[action="/actions/resync"]') !== null;
  const [resp] = await Promise.all([
    page.waitForNavigation(),
    page.evaluate((c) => {
      const f = document.createElement('form');
      f.method = 'post';
      f.action = '/actions/resync';
      const i = document.createElement('input');
      i.name = 'code';
      i.value = c;
      f.appendChild(i);
      document.body.appendChild(f);
      f.submit();
    }, code),
  ]);
  result.actions.without_session = resp.status();
  await page.close();
}

// Sign in through the form, then act. The refusals provoked here (403) are not problems.
if (mode === 'actions') {
  const { page, problems } = await open();
  await page.goto(base + '/signin', { waitUntil: 'networkidle0' });
  await page.type('input[name=token]', token);
  const [signed] = await Promise.all([page.waitForNavigation(), page.click('button[type=submit]')]);
  result.actions.signin = { status: signed.status(), url: page.url(), ids: await ids(page) };
  result.actions.signed_in_as = await page.evaluate(() => document.querySelector('.who')?.textContent ?? '');
  const cookies = await browser.cookies();
  result.actions.session_cookie = cookies.filter((c) => c.name === 'ds_session')
      .map((c) => ({ httpOnly: c.httpOnly, sameSite: c.sameSite }));

  // The CSRF field removed: refused.
  await page.goto(base + dossier, { waitUntil: 'networkidle0' });
  const [refused] = await Promise.all([
    page.waitForNavigation(),
    page.evaluate(() => {
      const f = document.querySelector('form[action="/actions/resync"]');
      f.querySelector('input[name=csrf]').remove();
      f.submit();
    }),
  ]);
  result.actions.without_csrf = refused.status();
  problems.length = 0;

  // The resync clicked.
  await page.goto(base + dossier, { waitUntil: 'networkidle0' });
  const [done] = await Promise.all([
    page.waitForNavigation(),
    page.click('form[action="/actions/resync"] button[type=submit]'),
  ]);
  result.actions.resync = { status: done.status(), notice: (await ids(page)).notice ?? '' };
  await page.screenshot({ path: path.join(outDir, 'dossier-resync.png'), fullPage: true });
  result.actions.problems = problems;
  await page.close();
}

await browser.close();
process.stdout.write(JSON.stringify(result) + '\n');
