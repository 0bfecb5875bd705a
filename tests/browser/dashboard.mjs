// Browser test driven by cargo test (tests/it/browser.rs), issue 6: the supervisor opens
// the dashboard (R-DATA-07) over the demo's year of history — every chart draws on a
// canvas with ECharts, the repair map with Leaflet, no console errors — and on a phone a
// customer looks up an order's progress (R-DATA-06) without signing in.
import { chromium } from 'playwright-core';

const base = process.env.BASE_URL;
const shots = process.env.SHOTS || '.';
function check(cond, msg) { if (!cond) { throw new Error('check failed: ' + msg); } }

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
});
const errors = [];
function watch(page, who) {
  page.on('pageerror', (e) => errors.push(who + ' page error: ' + e.message));
  // Failed loads are reported with their address below (the console's message has none);
  // the browser's own request for /favicon.ico is not the page's.
  page.on('console', (m) => {
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) errors.push(who + ' console: ' + m.text());
  });
  page.on('response', (r) => {
    if (r.status() >= 400 && !r.url().endsWith('/favicon.ico') && !r.url().endsWith('/api/v1/public/progress')) {
      errors.push(who + ' ' + r.status() + ' ' + r.url());
    }
  });
  page.on('requestfailed', (r) => {
    // The event stream is cut when the page closes; anything else is an error.
    if (!r.url().includes('/events/stream')) errors.push(who + ' request failed: ' + r.url());
  });
}
try {
  // 1. The supervisor's dashboard on a desk screen.
  const desk = await browser.newContext({ locale: 'zh-CN', viewport: { width: 1280, height: 1000 } });
  const page = await desk.newPage();
  watch(page, 'supervisor');
  await page.goto(base + '/login?next=/dashboard');
  await page.fill('input[name=username]', 'supervisor');
  await page.fill('input[name=password]', process.env.SUP_PASSWORD);
  await page.click('button[type=submit]');
  await page.waitForURL('**/dashboard');
  for (const name of ['intake', 'units', 'trend', 'categories']) {
    await page.waitForSelector('[data-chart=' + name + '] canvas', { timeout: 15000 });
  }
  await page.waitForFunction(() => Number(document.querySelector('[data-dash-root]').dataset.rendered || 0) >= 1);
  await page.waitForSelector('#dash-map canvas, #dash-map path.leaflet-interactive', { timeout: 15000 });
  const stats = await page.$$eval('[data-dash-stat]', (els) => els.map((e) => e.textContent.trim()));
  check(stats.every((s) => /^\d+$/.test(s)), 'the figures are numbers: ' + stats);
  const open = Number(stats[2]);
  check(open > 0, 'open orders shown: ' + stats);
  const repairs = await page.textContent('[data-dash-repairs]');
  check(/\d+/.test(repairs) && !/· 0 /.test(repairs), 'repairs on the map: ' + repairs);
  // The charts hold data: the trend's canvas is not blank.
  const inked = await page.$eval('[data-chart=trend] canvas', (c) => {
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++;
    return n;
  });
  check(inked > 1000, 'the trend is drawn (' + inked + ' pixels)');
  // A refresh redraws without errors.
  const before = Number(await page.$eval('[data-dash-root]', (r) => r.dataset.rendered));
  await page.evaluate(() => window.dispatchEvent(new Event('resize')));
  await page.screenshot({ path: shots + '/supervisor-dashboard.png', fullPage: true });
  console.log('dashboard rendered ' + before + ' time(s); figures ' + stats.join(' / ') + '; ' + repairs.trim());

  // A phone: one column, nothing wider than the screen.
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(base + '/dashboard');
  await page.waitForSelector('[data-chart=categories] canvas');
  const phoneWidth = await page.evaluate(() => document.documentElement.scrollWidth);
  check(phoneWidth <= 390, 'the dashboard fits a phone (' + phoneWidth + ' px)');
  const chartWidth = await page.$eval('[data-chart=trend] canvas', (c) => c.getBoundingClientRect().width);
  check(chartWidth > 250 && chartWidth <= 390, 'the trend spans the phone (' + chartWidth + ' px)');
  await page.screenshot({ path: shots + '/supervisor-dashboard-phone.png' });
  await page.setViewportSize({ width: 1280, height: 1000 });

  // English.
  await page.goto(base + '/lang/en?next=/dashboard');
  await page.waitForSelector('[data-chart=trend] canvas');
  check((await page.textContent('h1')).includes('Supervisor dashboard'), 'English title');

  // 2. A customer on a phone, no sign-in.
  const phone = await browser.newContext({ locale: 'zh-CN', viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
  const p = await phone.newPage();
  watch(p, 'customer');
  await p.goto(base + '/progress');
  // Wrong digits first: the same answer as an unknown number.
  await p.fill('input[name=number]', process.env.PROGRESS_NUMBER);
  await p.fill('input[name=phone_last4]', process.env.PROGRESS_LAST4 === '0000' ? '1111' : '0000');
  await p.click('button[type=submit]');
  await p.waitForSelector('[data-progress-error]:not([hidden])');
  check((await p.textContent('[data-progress-error]')).includes('未查到'), 'not found message');
  await p.fill('input[name=phone_last4]', process.env.PROGRESS_LAST4);
  await p.click('button[type=submit]');
  await p.waitForSelector('[data-testid=progress-result]:not([hidden])');
  const stage = (await p.textContent('[data-testid=progress-stage]')).trim();
  check(stage === process.env.PROGRESS_STAGE, 'stage shown: ' + stage + ' (expected ' + process.env.PROGRESS_STAGE + ')');
  check((await p.textContent('[data-progress-result]')).includes(process.env.PROGRESS_NUMBER), 'the number');
  const firstTime = (await p.textContent('.progress-steps li .when')).trim();
  check(firstTime === process.env.PROGRESS_REGISTERED, 'registered at ' + firstTime + ' (expected ' + process.env.PROGRESS_REGISTERED + ')');
  const width = await p.evaluate(() => document.documentElement.scrollWidth);
  check(width <= 390, 'fits a phone (' + width + ' px)');
  await p.screenshot({ path: shots + '/progress-phone.png', fullPage: true });
  console.log('progress stage: ' + stage);

  check(errors.length === 0, 'no errors in the browser:\n' + errors.join('\n'));
  console.log('OK dashboard');
} finally {
  await browser.close();
}
