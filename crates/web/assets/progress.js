// The customer's progress look-up (/progress, R-DATA-06): posts the number and the last
// four digits as JSON to /api/v1/public/progress and shows the stage and milestones. The
// server words everything in the page's language (the lang cookie goes with the request).
(function () {
  'use strict';
  const form = document.querySelector('[data-progress-form]');
  if (!form) return;
  const box = document.querySelector('[data-progress-result]');
  const err = document.querySelector('[data-progress-error]');
  const f = (k) => box.querySelector('[data-f="' + k + '"]');
  // YYYY-MM-DD HH:MM in the utility's zone (the customer may be elsewhere).
  let fmt = null;
  try {
    fmt = new Intl.DateTimeFormat('sv-SE', { timeZone: form.dataset.tz || undefined, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit' });
  } catch (_) { fmt = new Intl.DateTimeFormat('sv-SE', { year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit' }); }
  const when = (iso) => fmt.format(new Date(iso));

  function show(r) {
    f('number').textContent = r.number;
    f('type').textContent = r.category_label ? r.type_label + ' · ' + r.category_label : r.type_label;
    f('stage').textContent = r.stage_label;
    f('stage').dataset.stage = r.stage;
    const list = f('milestones');
    list.textContent = '';
    r.milestones.forEach((m) => {
      const li = document.createElement('li');
      li.textContent = m.label + ' ';
      const t = document.createElement('div');
      t.className = 'when';
      t.textContent = when(m.at);
      li.appendChild(t);
      list.appendChild(li);
    });
    f('reply-box').hidden = !r.reply;
    f('reply').textContent = r.reply || '';
    box.hidden = false;
  }

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    err.hidden = true;
    box.hidden = true;
    const body = { number: form.number.value.trim(), phone_last4: form.phone_last4.value.trim() };
    const button = form.querySelector('button');
    button.disabled = true;
    try {
      const r = await fetch('/api/v1/public/progress', {
        method: 'POST', headers: { 'Content-Type': 'application/json', Accept: 'application/json' }, body: JSON.stringify(body),
      });
      const j = await r.json().catch(() => ({}));
      if (r.ok) {
        show(j);
      } else {
        err.textContent = (j.error && j.error.message) || String(r.status);
        err.hidden = false;
      }
    } catch (x) {
      err.textContent = String(x);
      err.hidden = false;
    } finally {
      button.disabled = false;
    }
  });
})();
