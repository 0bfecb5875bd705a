// Browser test driven by cargo test (tests/it/browser.rs), issue 6 (R-DATA-03/04): a
// supervisor goes from the statistics page to the custom reports, builds a report (group
// by order type, three indicators, three order types, fixed dates), previews it, saves it,
// exports it to Excel and opens the print page. The Rust side opens the downloaded
// workbook and compares its totals with the API's.
import { chromium } from 'playwright-core';

const base = process.env.BASE_URL;
const shots = process.env.SHOTS || '.';
function check(cond, msg) { if (!cond) { throw new Error('check failed: ' + msg); } }

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
});
try {
  const ctx = await browser.newContext({ locale: 'zh-CN', viewport: { width: 1366, height: 900 }, acceptDownloads: true });
  const page = await ctx.newPage();
  page.on('pageerror', (e) => console.log('[page error] ' + e.message));
  await page.goto(base + '/login?next=' + encodeURIComponent('/stats'));
  await page.fill('input[name=username]', process.env.WD_USER);
  await page.fill('input[name=password]', process.env.WD_PASSWORD);
  await page.click('button[type=submit]');
  await page.waitForURL('**/stats');

  // From the statistics to the reports (also in the navigation).
  check(await page.locator('nav a[href="/reports"]').count() === 1, 'the navigation links the reports');
  await Promise.all([page.waitForNavigation(), page.click('[data-testid=custom-reports]')]);
  check(page.url().endsWith('/reports'), page.url());

  // Build: group by type; registered, completed, conclusion rate; three types; June.
  await page.fill('[data-testid=report-name]', '六月分类型统计');
  await page.selectOption('[data-testid=report-period]', 'fixed');
  await page.fill('[data-testid=report-from]', process.env.FROM);
  await page.fill('[data-testid=report-to]', process.env.TO);
  for (const cb of await page.locator('input[name=dim]').all()) await cb.uncheck();
  await page.check('input[name=dim][value=type]');
  for (const cb of await page.locator('input[name=ind]').all()) await cb.uncheck();
  for (const code of ['registered', 'completed', 'conclusion_rate']) await page.check('input[name=ind][value=' + code + ']');
  await page.click('[data-testid=report-builder] details summary >> nth=0');
  for (const t of ['repair', 'complaint', 'consultation']) await page.check('input[name=f_type][value=' + t + ']');

  // Preview without saving.
  await Promise.all([page.waitForNavigation(), page.click('[data-testid=report-preview]')]);
  check(!(await page.locator('[data-testid=report-error]').count()), 'preview refused: ' +
    (await page.locator('[data-testid=report-error]').textContent().catch(() => '')));
  const preview = page.locator('[data-testid=report-preview-result]');
  await preview.waitFor();
  const headers = await preview.locator('thead th').allTextContents();
  check(headers.join('|') === '工单类型|登录下单数|处理完毕数|办结率', 'headers: ' + headers.join('|'));
  const previewTotals = await preview.locator('[data-testid=report-totals] td').allTextContents();
  check(previewTotals.length === 3 && Number(previewTotals[0]) > 0, 'preview totals: ' + previewTotals.join('|'));
  // The builder keeps the choices.
  check(await page.isChecked('input[name=f_type][value=complaint]'), 'filters kept');

  // Save: the report page shows the same result.
  await Promise.all([page.waitForNavigation(), page.click('[data-testid=report-save]')]);
  const url = page.url().split('?')[0];
  check(/\/reports\/\d+$/.test(url), 'saved: ' + page.url());
  const id = url.split('/').pop();
  const totals = await page.locator('[data-testid=report-result] [data-testid=report-totals] td').allTextContents();
  check(totals.join('|') === previewTotals.join('|'), 'saved totals ' + totals.join('|') + ' = preview ' + previewTotals.join('|'));
  await page.screenshot({ path: shots + '/report.png', fullPage: true });

  // Export to Excel.
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('[data-testid=report-export]')]);
  check(download.suggestedFilename().endsWith('.xlsx'), download.suggestedFilename());
  await download.saveAs(process.env.DOWNLOAD);

  // Print.
  const [print] = await Promise.all([ctx.waitForEvent('page'), page.click('[data-testid=report-print]')]);
  await print.waitForLoadState();
  const printed = await print.locator('tr.total td').allTextContents();
  check(printed.join('|') === totals.join('|'), 'print totals: ' + printed.join('|'));
  check(!(await print.locator('.sidebar').count()), 'no navigation on paper');
  await print.emulateMedia({ media: 'print' });
  await print.screenshot({ path: shots + '/report-print.png', fullPage: true });
  console.log('OK report ' + id + ' totals ' + totals.join('|'));
} finally {
  await browser.close();
}
