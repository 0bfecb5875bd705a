// Browser test driven by cargo test (tests/it/browser.rs), issue 4: two agents sit at
// their extensions in the agent console; the PBX signals a call ringing at agent 1's
// extension; agent 1 sees the screen pop (agent 2 does not), records the contact with
// the keyboard, the call hangs up, and the contact has its duration.
import { chromium } from 'playwright-core';
import { createHmac } from 'node:crypto';

const base = process.env.BASE_URL;
const shots = process.env.SHOTS || '.';
const secret = process.env.CTI_SECRET;
function check(cond, msg) { if (!cond) { throw new Error('check failed: ' + msg); } }

async function cti(event) {
  // A PBX stamps each event with the time it happened.
  const body = JSON.stringify(Object.assign({ at: new Date().toISOString() }, event));
  const ts = Math.floor(Date.now() / 1000);
  const sig = 'sha256=' + createHmac('sha256', secret).update(ts + '.' + body).digest('hex');
  const r = await fetch(base + '/api/v1/cti/events', {
    method: 'POST', body,
    headers: { 'content-type': 'application/json', 'x-waterdesk-timestamp': String(ts), 'x-waterdesk-signature': sig },
  });
  const text = await r.text();
  check(r.ok, 'CTI event accepted: ' + r.status + ' ' + text);
  return JSON.parse(text);
}

async function agentPage(browser, user, password, extension) {
  const ctx = await browser.newContext({ locale: 'zh-CN', viewport: { width: 1280, height: 900 } });
  const page = await ctx.newPage();
  await page.goto(base + '/login?next=/console');
  await page.fill('input[name=username]', user);
  await page.fill('input[name=password]', password);
  await page.click('button[type=submit]');
  await page.waitForURL('**/console');
  await page.fill('[data-testid=extension]', extension);
  await page.click('[data-seat] button');
  await page.waitForSelector('[data-seat-status].ok');
  return page;
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
});
try {
  const a1 = await agentPage(browser, process.env.AGENT1_USER, process.env.AGENT1_PASSWORD, '8001');
  const a2 = await agentPage(browser, process.env.AGENT2_USER, process.env.AGENT2_PASSWORD, '8002');
  // Let both event streams connect.
  await a1.waitForTimeout(500);

  const callId = 'browser-' + Date.now();
  const sent = Date.now();
  const ring = await cti({ event: 'ringing', call_id: callId, caller: '13957123456', called: '96390', extension: '8001' });
  await a1.waitForSelector('[data-testid=screen-pop]:not([hidden]) [data-testid=pop-account]', { timeout: 5000 });
  const popMs = Date.now() - sent;
  console.log('pop shown after ' + popMs + ' ms');
  check((await a1.textContent('[data-testid=screen-pop]')).includes('李秀英'), 'the pop names the caller');
  check((await a1.textContent('[data-testid=screen-pop]')).includes(ring.contact_no), 'the pop shows the contact number');
  check(await a2.locator('[data-testid=screen-pop]:not([hidden])').count() === 0, 'the other agent gets no pop');
  await a1.screenshot({ path: shots + '/console-pop.png', fullPage: true });

  await cti({ event: 'answered', call_id: callId, extension: '8001' });
  // Record with the keyboard: Alt+1 picks the first category, Ctrl+Enter saves.
  await a1.click('[data-testid=contact-content]');
  await a1.keyboard.type('询问本月账单金额');
  await a1.keyboard.press('Alt+1');
  await a1.keyboard.press('Control+Enter');
  await a1.waitForSelector('[data-contact-status].ok');
  check((await a1.textContent('[data-contact-status]')).includes(ring.contact_no), 'saved the call\'s contact');
  check(await a1.locator('[data-testid=today-contacts] tbody tr[data-contact="' + ring.contact_id + '"]').count() === 1, 'listed today');

  await a1.waitForTimeout(1100);
  await cti({ event: 'hangup', call_id: callId, recording_url: 'https://pbx.example/rec/1.wav' });
  await a1.waitForFunction(() => /已挂机 \d+秒/.test(document.querySelector('[data-pop-state]').textContent));
  const r = await a1.request.get(base + '/api/v1/contacts/' + ring.contact_id);
  const c = await r.json();
  check(c.duration_s >= 1 && c.category === 'consultation' && c.status === 'open', 'contact complete: ' + JSON.stringify(c));
  await a1.screenshot({ path: shots + '/console.png', fullPage: true });

  // A phone-sized console still works for walk-in registration.
  await a2.setViewportSize({ width: 390, height: 844 });
  await a2.click('[data-testid=contact-content]');
  await a2.keyboard.type('来访咨询开户');
  await a2.keyboard.press('Alt+1');
  await a2.click('[data-testid=contact-save]');
  await a2.waitForSelector('[data-contact-status].ok');
  console.log('OK console');
} finally {
  await browser.close();
}
