// Browser test driven by cargo test (tests/it/browser.rs): sign in, see the dashboard,
// open an admin page, switch to English, sign out. Fails with a non-zero exit code.
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
  const ctx = await browser.newContext({ locale: 'zh-CN', extraHTTPHeaders: { 'Accept-Language': 'zh-CN' }, viewport: { width: 1280, height: 800 } });
  const page = await ctx.newPage();
  await page.goto(base + '/admin/users');
  check(page.url().includes('/login'), 'anonymous visit goes to the sign-in page');
  await page.screenshot({ path: shots + '/login.png' });

  await page.fill('input[name=username]', process.env.WD_USER);
  await page.fill('input[name=password]', 'wrong-Password-1');
  await page.click('button[type=submit]');
  check(await page.locator('[data-testid=login-error]').count() === 1, 'wrong password shows an error');

  await page.fill('input[name=username]', process.env.WD_USER);
  await page.fill('input[name=password]', process.env.WD_PASSWORD);
  await page.click('button[type=submit]');
  await page.waitForURL('**/admin/users');
  check((await page.textContent('h1')).includes('用户管理'), 'lands on the requested page, in Chinese');
  check(await page.locator('[data-testid=users-table] tbody tr').count() >= 10, 'users listed');
  await page.screenshot({ path: shots + '/users.png' });

  // Keyboard: "/" focuses the search box.
  await page.keyboard.press('/');
  check(await page.evaluate(() => document.activeElement && document.activeElement.name === 'q'), '"/" focuses search');

  // An agent's path: search the caller by phone, open the account 360 view.
  await page.goto(base + '/customers');
  await page.fill('[data-testid=customer-search]', '13957123456');
  await page.keyboard.press('Enter');
  await page.waitForSelector('[data-testid=customer-results] [data-testid=account-link]');
  await page.screenshot({ path: shots + '/customer-search.png' });
  await page.click('[data-testid=account-link]');
  await page.waitForSelector('[data-testid=account-no]');
  check((await page.textContent('[data-testid=account-no]')).includes('HZ0010002'), '360 view of the account');
  check(await page.locator('[data-testid=usage-chart] rect').count() >= 10, 'usage chart of the last bills');
  check(await page.locator('[data-testid=bills] tbody tr').count() >= 10, 'bills listed');
  await page.screenshot({ path: shots + '/account-360.png', fullPage: true });

  // Import a small CSV through the import page (preview, then import).
  await page.goto(base + '/customers/import');
  const csv = '户号,户名,电话,地址\nBRW0001,浏览器导入,13700000099,滨江区江南大道100号\n';
  await page.setInputFiles('[data-import-file]', { name: 'customers.csv', mimeType: 'text/csv', buffer: Buffer.from(csv) });
  await page.click('[data-import-preview]');
  await page.waitForSelector('[data-import-result] table');
  check((await page.textContent('[data-import-result]')).includes('account_no'), 'preview shows the mapping');
  await page.click('[data-import-run]');
  await page.waitForSelector('[data-import-result] .alert-ok');
  check((await page.textContent('[data-import-result]')).includes('1 新建'), 'import created the row');
  await page.screenshot({ path: shots + '/import.png' });

  await page.goto(base + '/');
  await page.screenshot({ path: shots + '/dashboard.png' });
  await page.click('a.lang');
  await page.waitForLoadState();
  check((await page.textContent('h1')).includes('Dashboard'), 'English after the switch');

  await page.goto(base + '/admin/audit');
  check(await page.locator('[data-testid=audit-table] tbody tr').count() > 0, 'audit page lists entries');
  await page.screenshot({ path: shots + '/audit.png' });

  // Phone-sized viewport: the menu button opens the sidebar.
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(base + '/admin/units');
  await page.click('.menu-btn');
  check(await page.evaluate(() => document.getElementById('sidebar').classList.contains('open')), 'menu opens on a phone');
  await page.screenshot({ path: shots + '/phone-units.png' });

  await page.setViewportSize({ width: 1280, height: 800 });
  // The API docs render from the embedded Swagger UI under the content security policy.
  await page.goto(base + '/api/docs');
  await page.waitForSelector('.swagger-ui .info .title', { timeout: 15000 });
  check((await page.textContent('.swagger-ui .info .title')).includes('waterdesk API'), 'API docs render');
  await page.screenshot({ path: shots + '/api-docs.png' });

  await page.goto(base + '/');
  await page.click('.user-menu summary');
  await page.click('[data-testid=logout]');
  await page.waitForURL('**/login');
  console.log('OK login');
} finally {
  await browser.close();
}
