// Browser test driven by cargo test (tests/it/browser.rs), issue 5: the full loop of a
// work order in three browser contexts — the agent records a call and turns it into an
// order, the dispatcher accepts and dispatches it, the crew member on a phone (small
// touch viewport, GPS) acknowledges, checks in, takes a photo, has the customer sign and
// completes; the dispatcher verifies; the agent makes the return visit; it is concluded.
import { chromium } from 'playwright-core';

const base = process.env.BASE_URL;
const shots = process.env.SHOTS || '.';
function check(cond, msg) { if (!cond) { throw new Error('check failed: ' + msg); } }
const SITE = { latitude: 30.27412, longitude: 120.15515 };

async function signIn(browser, user, password, next, options) {
  const ctx = await browser.newContext(Object.assign({ locale: 'zh-CN', viewport: { width: 1280, height: 900 } }, options || {}));
  const page = await ctx.newPage();
  page.on('dialog', (d) => d.accept());
  page.on('pageerror', (e) => console.log('[' + user + ' page error] ' + e.message));
  await page.goto(base + '/login?next=' + encodeURIComponent(next));
  await page.fill('input[name=username]', user);
  await page.fill('input[name=password]', password);
  await page.click('button[type=submit]');
  await page.waitForURL('**' + next);
  return page;
}

/// Opens an action's form on the desk order page, lets `fill` complete it, submits it.
async function act(page, code, fill) {
  const form = page.locator('[data-testid=action-' + code + ']');
  const details = page.locator('details.order-action', { has: form });
  if (!(await details.evaluate((d) => d.open))) await details.locator('summary').click();
  if (fill) await fill(form);
  await Promise.all([page.waitForNavigation(), form.locator('button[type=submit]').click()]);
  const flash = await page.locator('.alert').first().textContent().catch(() => '');
  check(!(await page.locator('.alert-error').count()), code + ' refused: ' + flash);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
});
try {
  const pw = JSON.parse(process.env.PASSWORDS);
  // 1. The call: the agent records it in the console, then turns it into an order.
  const agent = await signIn(browser, 'agent', pw.agent, '/console');
  await agent.check('input[name=category][value=repair]');
  await agent.fill('[data-testid=contact-content]', '浣纱路12号门口地面冒水，水很大');
  await agent.fill('input[name=caller] >> nth=0', '13957123456');
  await agent.keyboard.press('Control+Enter');
  await agent.waitForSelector('[data-contact-status].ok');
  const contactNo = (await agent.textContent('[data-contact-status]')).match(/C\d{8}-\d{6}/)[0];
  await agent.reload();
  const row = agent.locator('[data-testid=today-contacts] tr', { hasText: contactNo });
  await Promise.all([agent.waitForNavigation(), row.locator('[data-testid=console-to-order]').click()]);
  await agent.selectOption('select[name=type_code]', 'repair');
  await agent.selectOption('select[name=impact]', 'medium');
  await agent.selectOption('select[name=urgency]', 'medium');
  await agent.fill('input[name=title]', '浣纱路12号地面冒水');
  await agent.fill('input[name=address]', '上城区浣纱路12号');
  await agent.fill('input[name=lat]', String(SITE.latitude));
  await agent.fill('input[name=lng]', String(SITE.longitude));
  await Promise.all([agent.waitForNavigation(), agent.click('[data-testid=order-save]')]);
  const orderUrl = agent.url().split('?')[0];
  const orderId = orderUrl.split('/').pop();
  check(/\/orders\/\d+$/.test(orderUrl), 'registered: ' + agent.url());
  const orderNo = (await agent.title()).split(' ')[0];
  console.log('order ' + orderNo + ' from contact ' + contactNo);

  // 2. The dispatcher sees it waiting in the console's queue and on the map, accepts it
  //    and dispatches it to the crew member the suggestions rank.
  const dispatcher = await signIn(browser, 'dispatcher', pw.dispatcher, '/dispatch');
  await dispatcher.waitForSelector('[data-testid=board-queue] tr.row-waiting a:text("' + orderNo + '")');
  await dispatcher.waitForSelector('#board-map.leaflet-container');
  await dispatcher.waitForFunction(() => document.querySelector('[data-board-updated]').textContent !== '');
  await dispatcher.screenshot({ path: shots + '/dispatch.png', fullPage: true });
  await Promise.all([dispatcher.waitForNavigation(), dispatcher.click('[data-testid=board-queue] a:text("' + orderNo + '")')]);
  await act(dispatcher, 'accept');
  await act(dispatcher, 'dispatch', async (form) => {
    const options = await form.locator('select[name=assignee_id] option').allTextContents();
    check(options.some((o) => o.includes('陈志强')), 'the crew member is offered: ' + options.join(' | '));
    const value = await form.locator('select[name=assignee_id] option', { hasText: '陈志强' }).getAttribute('value');
    await form.locator('select[name=assignee_id]').selectOption(value);
  });

  // 3. The crew member on a phone.
  const crew = await signIn(browser, 'worker', pw.worker, '/m', {
    viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2,
    geolocation: { latitude: SITE.latitude + 0.0002, longitude: SITE.longitude }, permissions: ['geolocation'],
  });
  await crew.waitForSelector('[data-testid="field-order-' + orderNo + '"]');
  await crew.screenshot({ path: shots + '/field-list.png' });
  await Promise.all([crew.waitForNavigation(), crew.click('[data-testid="field-order-' + orderNo + '"]')]);
  await Promise.all([crew.waitForNavigation(), crew.click('[data-testid=field-action-acknowledge] button[type=submit]')]);
  // Check-in: the page takes the phone's position before it sends the step.
  await Promise.all([crew.waitForNavigation(), crew.click('[data-testid=field-action-start] button[type=submit]')]);
  check((await crew.textContent('[data-testid=field-state]')).includes('处理中'), 'in progress after the check-in');
  // A photo taken on the spot (made by the phone's own canvas, as a camera would).
  const jpeg = await crew.evaluate(() => new Promise((resolve) => {
    const c = document.createElement('canvas'); c.width = 800; c.height = 600;
    const g = c.getContext('2d'); g.fillStyle = '#3a6ea5'; g.fillRect(0, 0, 800, 600);
    g.fillStyle = '#fff'; g.font = '48px sans-serif'; g.fillText('浣纱路12号 现场', 120, 300);
    c.toBlob((b) => b.arrayBuffer().then((a) => resolve(Array.from(new Uint8Array(a)))), 'image/jpeg', 0.85);
  }));
  await crew.selectOption('#field-stage', 'before');
  await Promise.all([
    crew.waitForNavigation(),
    crew.setInputFiles('[data-testid=field-file]', { name: 'IMG_0001.jpg', mimeType: 'image/jpeg', buffer: Buffer.from(jpeg) }),
  ]);
  check((await crew.textContent('[data-testid=field-file-count]')).trim() === '1', 'the photo is there');
  // The customer signs with a finger.
  // (A touch screen's pointer events: page.mouse does not make them under touch emulation.)
  const canvas = crew.locator('[data-testid=field-signature]');
  const pad = await canvas.boundingBox();
  const stroke = (type, i) => canvas.dispatchEvent(type, {
    pointerId: 7, pointerType: 'touch', isPrimary: true, bubbles: true,
    clientX: pad.x + 20 + i * 20, clientY: pad.y + 60 + (i % 2) * 40,
  });
  await stroke('pointerdown', 0);
  for (let i = 1; i <= 12; i++) await stroke('pointermove', i);
  await stroke('pointerup', 12);
  await Promise.all([
    crew.waitForNavigation({ timeout: 10000 }).catch(async (e) => {
      throw new Error('no reload after saving the signature: ' + (await crew.textContent('#toasts')) + ' ' + e.message);
    }),
    crew.click('[data-testid=field-sign-save]'),
  ]);
  check((await crew.textContent('[data-testid=field-file-count]')).trim() === '2', 'the signature is there');
  const done = crew.locator('[data-testid=field-action-complete]');
  await done.locator('select[name=f_cause]').selectOption({ index: 1 });
  await done.locator('select[name=f_solution]').selectOption({ index: 1 });
  await done.locator('textarea[name=f_materials]').fill('DN100 管箍 ×1');
  await done.scrollIntoViewIfNeeded();
  await crew.screenshot({ path: shots + '/field-order.png' });
  await Promise.all([crew.waitForNavigation(), done.locator('button[type=submit]').click()]);
  check((await crew.textContent('[data-testid=field-state]')).includes('已销单'), 'resolved: ' + await crew.textContent('[data-testid=field-state]'));

  // 4. The dispatcher verifies; 5. the agent makes the return visit with the reply.
  await dispatcher.reload();
  await act(dispatcher, 'verify');
  await agent.goto(orderUrl);
  await act(agent, 'visit', async (form) => {
    await form.locator('select[name=f_satisfaction]').selectOption('satisfied');
    await form.locator('textarea[name=f_reply]').fill('已修复，回访客户表示满意');
  });
  const r = await agent.request.get(base + '/api/v1/orders/' + orderId);
  const d = await r.json();
  check(d.order.state === 'concluded', 'concluded: ' + d.order.state);
  const actions = d.events.map((e) => e.action).join(',');
  check(actions === 'register,accept,dispatch,acknowledge,start,complete,verify,visit', 'history: ' + actions);
  const fields = JSON.parse(d.order.fields);
  check(fields.checkin_distance_m && !fields.checkin_far && fields.materials === 'DN100 管箍 ×1', 'fields: ' + d.order.fields);
  const files = await (await agent.request.get(base + '/api/v1/orders/' + orderId + '/attachments')).json();
  check(files.length === 2 && files.some((f) => f.stage === 'signature'), 'files: ' + JSON.stringify(files));
  await agent.screenshot({ path: shots + '/order-concluded.png', fullPage: true });
  console.log('OK order loop');
} finally {
  await browser.close();
}
