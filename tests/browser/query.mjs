// Browser test driven by cargo test (tests/it/browser.rs), R-DATA-02/03: the query builder
// as a supervisor — conditions and an OR group, run, keyset pages forward and back, save and
// share, load, export with progress and download, print view. Non-zero exit on failure.
import { chromium } from 'playwright-core';

const base = process.env.BASE_URL;
const shots = process.env.SHOTS || '.';
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
});
function check(cond, msg) { if (!cond) { throw new Error('check failed: ' + msg); } }
try {
  const ctx = await browser.newContext({ locale: 'zh-CN', acceptDownloads: true, viewport: { width: 1366, height: 900 } });
  const page = await ctx.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(base + '/query');
  await page.fill('input[name=username]', process.env.WD_USER);
  await page.fill('input[name=password]', process.env.WD_PASSWORD);
  await page.click('button[type=submit]');
  await page.waitForURL('**/query');
  await page.waitForSelector('[data-testid=group]');

  // type = repair AND (state in [concluded] OR overdue is yes)
  await page.click('[data-testid=add-condition]');
  const first = page.locator('[data-testid=condition]').nth(0);
  await first.locator('[data-testid=field]').selectOption('type');
  await first.locator('[data-testid=value]').selectOption('repair');
  await page.locator('[data-testid=add-group]').first().click();
  const group = page.locator('[data-testid=group] [data-testid=group]').first();
  await group.locator('[data-testid=group-mode]').selectOption('any');
  const inner = group.locator('[data-testid=condition]').first();
  await inner.locator('[data-testid=field]').selectOption('state');
  await inner.locator('[data-testid=op]').selectOption('in');
  await inner.locator('[data-testid=value]').selectOption(['concluded', 'verified']);
  await group.locator('[data-testid=add-condition]').click();
  const second = group.locator('[data-testid=condition]').nth(1);
  await second.locator('[data-testid=field]').selectOption('overdue');
  await page.selectOption('[data-testid=query-limit]', '20');
  await page.click('[data-testid=query-run]');
  await page.waitForFunction(() => document.querySelectorAll('[data-testid=query-results] tbody tr[data-order]').length === 20);
  const page1 = await page.locator('[data-testid=query-results] tbody tr[data-order]').first().getAttribute('data-order');
  check(!(await page.isDisabled('[data-testid=query-next]')), 'a next page');
  await page.screenshot({ path: shots + '/query.png', fullPage: true });

  // Keyset pages: forward, then back to the same first row.
  await page.click('[data-testid=query-next]');
  await page.waitForFunction((id) => {
    const r = document.querySelector('[data-testid=query-results] tbody tr[data-order]');
    return r && r.dataset.order !== id;
  }, page1);
  check(!(await page.isDisabled('[data-testid=query-prev]')), 'previous enabled on page 2');
  await page.click('[data-testid=query-prev]');
  await page.waitForFunction((id) => {
    const r = document.querySelector('[data-testid=query-results] tbody tr[data-order]');
    return r && r.dataset.order === id;
  }, page1);

  // A bad value shows the refusal, not a crash: free text of one character.
  await page.click('[data-testid=add-condition] >> nth=0');
  const last = page.locator('[data-testid=group]').first().locator(':scope > [data-testid=condition]').last();
  await last.locator('[data-testid=field]').selectOption('text');
  await last.locator('[data-testid=value]').fill('漏');
  await last.locator('[data-testid=value]').press('Enter');
  await page.waitForSelector('[data-testid=query-error]:not([hidden])');
  check((await page.textContent('[data-testid=query-error]')).includes('条件的取值无效'), 'refusal in Chinese');
  await last.locator('[data-testid=value]').fill('水管');
  await page.click('[data-testid=query-run]');
  await page.waitForSelector('[data-testid=query-error][hidden]', { state: 'attached' });

  // Save, shared with the unit; it appears in the list and loads back.
  await page.fill('[data-testid=saved-name]', '浏览器保存的查询');
  await page.check('[data-testid=saved-shared]');
  await page.click('[data-testid=saved-save]');
  await page.waitForFunction(() => Array.from(document.querySelectorAll('[data-testid=saved-select] option')).some((o) => o.textContent.includes('浏览器保存的查询')));
  await page.reload();
  await page.waitForFunction(() => document.querySelectorAll('[data-testid=saved-select] option').length > 1);
  const value = await page.locator('[data-testid=saved-select] option', { hasText: '浏览器保存的查询' }).getAttribute('value');
  await page.selectOption('[data-testid=saved-select]', value);
  await page.waitForFunction(() => document.querySelectorAll('[data-testid=condition]').length === 4);
  await page.waitForFunction(() => document.querySelectorAll('[data-testid=query-results] tbody tr[data-order]').length > 0);

  // Export with progress, then the download.
  const download = page.waitForEvent('download');
  await page.click('[data-testid=query-export]');
  await page.waitForSelector('[data-testid=export-link]');
  const d = await download;
  check(d.suggestedFilename().endsWith('.xlsx'), 'an xlsx download: ' + d.suggestedFilename());
  check((await page.getAttribute('[data-testid=export-progress]', 'value')) === '100', 'progress reached 100 %');
  await page.screenshot({ path: shots + '/query-export.png' });

  // Print view in a new tab.
  const popup = page.waitForEvent('popup');
  await page.click('[data-testid=query-print]');
  const p = await popup;
  await p.waitForLoadState();
  check(await p.locator('[data-testid=print-rows] tbody tr').count() > 0, 'print view rows');
  await p.screenshot({ path: shots + '/query-print.png' });
  check(errors.length === 0, 'no script errors: ' + errors.join('; '));
  console.log('OK query');
} finally {
  await browser.close();
}
