// waterdesk page behaviour: small and dependency-free.
// - CSRF token on every script-initiated write
// - confirmation of destructive forms (data-confirm)
// - keyboard: "/" focuses the search box of the page, "Esc" leaves it
// - live announcements over server-sent events
(function () {
  'use strict';
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || '';

  document.addEventListener('submit', function (e) {
    var f = e.target;
    if (f.dataset && f.dataset.confirm && !window.confirm(f.dataset.confirm)) {
      e.preventDefault();
    }
  });

  document.addEventListener('keydown', function (e) {
    var tag = (e.target.tagName || '').toLowerCase();
    var typing = tag === 'input' || tag === 'textarea' || tag === 'select' || e.target.isContentEditable;
    if (e.key === '/' && !typing) {
      var s = document.querySelector('[data-shortcut="/"]');
      if (s) { e.preventDefault(); s.focus(); s.select && s.select(); }
    } else if (e.key === 'Escape' && typing) {
      e.target.blur();
    }
  });

  document.addEventListener('click', function (e) {
    var t = e.target.closest('[data-toggle="sidebar"]');
    if (t) { document.getElementById('sidebar').classList.toggle('open'); }
  });

  function toast(text, kind) {
    var box = document.getElementById('toasts');
    if (!box) return;
    var el = document.createElement('div');
    el.className = 'toast ' + (kind || '');
    el.setAttribute('role', 'status');
    el.textContent = text;
    box.appendChild(el);
    setTimeout(function () { el.classList.add('hide'); }, 8000);
    setTimeout(function () { el.remove(); }, 9000);
  }
  // Sends a file as the raw body of an attachments URL, with progress on `bar`.
  function upload(url, blob, name, stage, bar) {
    return new Promise(function (resolve, reject) {
      var q = new URLSearchParams({ stage: stage || 'other', name: name || '' });
      var here = window.waterdesk.position;
      if (here) { q.set('lat', here.lat.toFixed(6)); q.set('lng', here.lng.toFixed(6)); }
      var xhr = new XMLHttpRequest();
      xhr.open('POST', url + '?' + q.toString());
      xhr.setRequestHeader('Content-Type', blob.type || 'application/octet-stream');
      xhr.setRequestHeader('X-CSRF-Token', csrf);
      if (bar) { bar.hidden = false; bar.value = 0; }
      xhr.upload.onprogress = function (e) { if (bar && e.lengthComputable) bar.value = Math.round(100 * e.loaded / e.total); };
      xhr.onload = function () {
        if (xhr.status === 200 || xhr.status === 201) return resolve();
        var msg = String(xhr.status);
        try { msg = JSON.parse(xhr.responseText).error.message; } catch (_) { /* keep the status */ }
        reject(new Error(msg));
      };
      xhr.onerror = function () { reject(new Error('network')); };
      xhr.send(blob);
    });
  }
  window.waterdesk = { toast: toast, csrf: csrf, events: null, upload: upload, position: null };

  // Attachments: <… data-upload="/api/v1/…/attachments"> holding an <input type=file
  // data-upload-input>, optionally a stage <select data-upload-stage> and a <progress
  // data-upload-progress>; the page reloads to show what was stored.
  document.querySelectorAll('[data-upload]').forEach(function (box) {
    var input = box.querySelector('[data-upload-input]');
    if (!input) return;
    input.addEventListener('change', async function () {
      var stage = box.querySelector('[data-upload-stage]');
      var bar = box.querySelector('[data-upload-progress]');
      try {
        for (var f of Array.from(input.files)) await upload(box.dataset.upload, f, f.name, stage ? stage.value : 'other', bar);
        location.reload();
      } catch (e) {
        toast(e.message, 'error');
      }
    });
  });

  if (window.EventSource && document.getElementById('sidebar')) {
    var es = new EventSource('/api/v1/events/stream');
    window.waterdesk.events = es;
    es.addEventListener('announcement', function (m) {
      try {
        var ev = JSON.parse(m.data);
        toast(ev.payload.message + (ev.payload.from ? ' — ' + ev.payload.from : ''), 'info');
      } catch (_) { /* ignore malformed */ }
    });
  }
})();

// Import page: preview a file, then import it in the background with a progress bar
// (the run is polled through the API; cookie session + CSRF header).
(function () {
  'use strict';
  var box = document.querySelector('[data-import]');
  if (!box) return;
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || '';
  var zh = (document.documentElement.lang || '').indexOf('zh') === 0;
  var T = zh
    ? { uploading: '正在上传…', running: '正在导入', choose: '请先选择文件', rows: '行', created: '新建', updated: '更新', unchanged: '未变', skipped: '跳过', rolled: '有错误，未写入任何数据', line: '行号', column: '列', problem: '问题', encoding: '格式/编码', missing: '缺少必填列', failed: '导入失败', interrupted: '导入被中断' }
    : { uploading: 'Uploading…', running: 'Importing', choose: 'Choose a file first', rows: 'rows', created: 'created', updated: 'updated', unchanged: 'unchanged', skipped: 'skipped', rolled: 'Errors found: nothing was written', line: 'Line', column: 'Column', problem: 'Problem', encoding: 'Format/encoding', missing: 'Missing required columns', failed: 'Import failed', interrupted: 'Import interrupted' };
  var status = box.querySelector('[data-import-status]');
  var out = box.querySelector('[data-import-result]');
  var bar = box.querySelector('[data-import-progress]');
  function el(tag, text, cls) { var e = document.createElement(tag); if (text != null) e.textContent = text; if (cls) e.className = cls; return e; }
  function table(head, rows) {
    var t = el('table', null, 'table table-dense'); var tr = el('tr');
    head.forEach(function (h) { tr.appendChild(el('th', h)); });
    var th = el('thead'); th.appendChild(tr); t.appendChild(th);
    var tb = el('tbody');
    rows.forEach(function (r) { var row = el('tr'); r.forEach(function (c) { row.appendChild(el('td', c)); }); tb.appendChild(row); });
    t.appendChild(tb); var w = el('div', null, 'table-wrap'); w.appendChild(t); return w;
  }
  function kind() { return box.querySelector('[data-import-kind]').value; }
  function fail(b) { out.appendChild(el('div', (b.error ? b.error.message + (b.error.detail ? ' ' + b.error.detail : '') : T.failed), 'alert alert-error')); }
  function showReport(b) {
    out.appendChild(el('div', b.rows + ' ' + T.rows + ': ' + b.created + ' ' + T.created + ', ' + b.updated + ' ' + T.updated + ', ' + b.unchanged + ' ' + T.unchanged + ', ' + b.skipped + ' ' + T.skipped, b.errors.length ? 'alert alert-warn' : 'alert alert-ok'));
    if (b.rolled_back) out.appendChild(el('div', T.rolled, 'alert alert-error'));
    if (b.errors.length) out.appendChild(table([T.line, T.column, T.problem], b.errors.map(function (e) { return [String(e.line), e.column, e.message]; })));
  }
  function progress(done, total) {
    bar.hidden = false; bar.max = Math.max(total, 1); bar.value = done;
    status.textContent = T.running + ' ' + done + ' / ' + total + ' ' + T.rows;
  }
  function poll(id) {
    fetch('/api/v1/imports/runs/' + id, { credentials: 'same-origin' }).then(function (r) { return r.json(); }).then(function (run) {
      if (run.status === 'running') { progress(run.done, run.total); setTimeout(function () { poll(id); }, 400); return; }
      bar.hidden = true; status.textContent = '';
      if (run.status === 'done') showReport(run.report);
      else if (run.status === 'failed') fail({ error: { message: T.failed, detail: run.report && run.report.message } });
      else fail({ error: { message: T.interrupted } });
    }).catch(function (e) { status.textContent = String(e); });
  }
  function send(url, then) {
    var f = box.querySelector('[data-import-file]').files[0];
    if (!f) { status.textContent = T.choose; return; }
    status.textContent = T.uploading;
    out.textContent = '';
    f.arrayBuffer().then(function (buf) {
      return fetch(url + (url.indexOf('?') < 0 ? '?' : '&') + 'file_name=' + encodeURIComponent(f.name), { method: 'POST', body: buf, headers: { 'content-type': 'application/octet-stream', 'x-csrf-token': csrf }, credentials: 'same-origin' });
    }).then(function (r) { return r.json().then(function (j) { return { ok: r.ok, body: j }; }); })
      .then(function (res) { status.textContent = ''; if (!res.ok) { fail(res.body); return; } then(res.body); })
      .catch(function (e) { status.textContent = String(e); });
  }
  box.querySelector('[data-import-preview]').addEventListener('click', function () {
    send('/api/v1/imports/' + kind() + '/preview', function (b) {
      out.appendChild(el('p', T.encoding + ': ' + b.format + '/' + b.encoding + ' · ' + b.rows + ' ' + T.rows));
      if (b.missing.length) out.appendChild(el('div', T.missing + ': ' + b.missing.join(', '), 'alert alert-error'));
      out.appendChild(table(b.headers.map(function (h, i) { return h + (b.mapping[i] ? ' → ' + b.mapping[i] : ''); }), b.sample));
    });
  });
  box.querySelector('[data-import-run]').addEventListener('click', function () {
    send('/api/v1/imports/' + kind() + '?background=true&mode=' + box.querySelector('[data-import-mode]').value, function (run) {
      progress(0, run.total); poll(run.id);
    });
  });
})();

// Agent console: seat at an extension, screen pop on ringing (SSE "cti.ringing"), the
// contact form (Ctrl+Enter saves, Alt+N starts a new contact, Alt+1…9 picks the category),
// customer search that fills the form.
(function () {
  'use strict';
  var box = document.querySelector('[data-console]');
  if (!box) return;
  var wd = window.waterdesk;
  var zh = (document.documentElement.lang || '').indexOf('zh') === 0;
  var T = zh
    ? { saved: '已保存', seated: '已就座分机', ringing: '来电振铃', answered: '通话中', ended: '已挂机', sec: '秒', arrears: '欠费', none: '未匹配到客户', recent: '近期来电', use: '选用', error: '保存失败', draft: '来电草稿' }
    : { saved: 'Saved', seated: 'Seated at', ringing: 'Ringing', answered: 'In call', ended: 'Hung up', sec: 's', arrears: 'Arrears', none: 'No matching customer', recent: 'Recent contacts', use: 'Use', error: 'Could not save', draft: 'Call draft' };
  var form = box.querySelector('[data-contact-form]');
  var status = box.querySelector('[data-contact-status]');
  var pop = box.querySelector('[data-pop]');
  function el(tag, text, cls) { var e = document.createElement(tag); if (text != null) e.textContent = text; if (cls) e.className = cls; return e; }
  function api(method, url, body) {
    return fetch(url, { method: method, credentials: 'same-origin', headers: { 'content-type': 'application/json', 'x-csrf-token': wd.csrf }, body: body ? JSON.stringify(body) : undefined })
      .then(function (r) { return r.status === 204 ? { ok: true, body: {} } : r.json().then(function (j) { return { ok: r.ok, body: j }; }); });
  }
  function yuan(fen) { return '¥' + (fen / 100).toFixed(2); }
  function fill(customerId, accountId) {
    form.elements.customer_id.value = customerId || '';
    form.elements.account_id.value = accountId || '';
  }
  function customerCard(hit, arrears) {
    var c = hit.customer; var d = el('div', null, 'pop-customer');
    var head = el('div'); var a = el('a', c.name); a.href = '/customers/' + c.id; head.appendChild(a);
    head.appendChild(el('span', ' ' + c.phones.map(function (p) { return p.phone; }).join(' '), 'muted small'));
    d.appendChild(head);
    c.accounts.forEach(function (acc) {
      var row = el('div', null, 'pop-account');
      var link = el('a', acc.account_no); link.href = '/accounts/' + acc.id; link.dataset.testid = 'pop-account'; row.appendChild(link);
      row.appendChild(el('span', ' ' + acc.address + ' '));
      var owed = (arrears || []).find(function (x) { return x[0] === acc.id; });
      if (owed) row.appendChild(el('span', T.arrears + ' ' + yuan(owed[1]), owed[1] > 0 ? 'badge warn' : 'badge ok'));
      var use = el('button', T.use, 'btn btn-sm'); use.type = 'button';
      use.addEventListener('click', function () { fill(c.id, acc.id); form.elements.content.focus(); });
      row.appendChild(use);
      d.appendChild(row);
    });
    return d;
  }
  function showPop(contactId) {
    api('GET', '/api/v1/cti/pop?contact_id=' + contactId).then(function (res) {
      if (!res.ok) return;
      var p = res.body; var body = pop.querySelector('[data-pop-body]');
      body.textContent = '';
      pop.querySelector('[data-pop-caller]').textContent = p.caller;
      if (!p.customers.length) body.appendChild(el('p', T.none, 'muted'));
      p.customers.forEach(function (h) { body.appendChild(customerCard(h, p.arrears)); });
      if (p.recent_contacts.length) {
        body.appendChild(el('div', T.recent, 'muted small'));
        var ul = el('ul', null, 'pop-recent');
        p.recent_contacts.forEach(function (c) { ul.appendChild(el('li', c.contact_no + ' ' + (c.category || '') + ' ' + (c.content || '').slice(0, 40))); });
        body.appendChild(ul);
      }
      if (p.contact) {
        form.reset();
        form.elements.contact_id.value = p.contact.id;
        form.elements.caller.value = p.contact.caller;
        fill(p.contact.customer_id, p.contact.account_id);
        box.querySelector('[data-contact-no]').textContent = T.draft + ' ' + p.contact.contact_no;
      }
    });
  }
  function onCall(kind) {
    return function (m) {
      var ev; try { ev = JSON.parse(m.data); } catch (_) { return; }
      var state = pop.querySelector('[data-pop-state]');
      if (kind === 'ringing') {
        pop.hidden = false; state.textContent = T.ringing; state.className = 'badge warn';
        pop.querySelector('[data-pop-no]').textContent = ev.payload.contact_no;
        pop.dataset.contact = ev.payload.contact_id;
        showPop(ev.payload.contact_id);
        wd.toast(T.ringing + ' ' + ev.payload.contact_no, 'info');
      } else if (String(pop.dataset.contact) === String(ev.payload.contact_id)) {
        if (kind === 'answered') { state.textContent = T.answered; state.className = 'badge ok'; }
        if (kind === 'hangup') { state.textContent = T.ended + (ev.payload.duration_s != null ? ' ' + ev.payload.duration_s + T.sec : ''); state.className = 'badge'; }
      }
    };
  }
  if (wd.events) {
    wd.events.addEventListener('cti.ringing', onCall('ringing'));
    wd.events.addEventListener('cti.answered', onCall('answered'));
    wd.events.addEventListener('cti.hangup', onCall('hangup'));
  }
  pop.querySelector('[data-pop-close]').addEventListener('click', function () { pop.hidden = true; });

  box.querySelector('[data-seat]').addEventListener('submit', function (e) {
    e.preventDefault();
    var ext = e.target.elements.extension.value.trim();
    var badge = box.querySelector('[data-seat-status]');
    api(ext ? 'PUT' : 'DELETE', '/api/v1/agent/extension', ext ? { extension: ext } : null).then(function (res) {
      if (res.ok) { badge.textContent = ext ? T.seated + ' ' + ext : ''; badge.className = 'badge ok'; }
      else { badge.textContent = res.body.error.message; badge.className = 'badge warn'; }
    });
  });

  function save() {
    var f = form.elements;
    var cat = form.querySelector('input[name=category]:checked');
    var body = {
      channel: f.channel.value, direction: f.direction.value, source: f.source.value, caller: f.caller.value,
      customer_id: f.customer_id.value ? Number(f.customer_id.value) : null,
      account_id: f.account_id.value ? Number(f.account_id.value) : null,
      category: cat ? cat.value : '', content: f.content.value, address: f.address.value, reply: f.reply.value
    };
    var id = f.contact_id.value;
    status.textContent = '';
    api(id ? 'PUT' : 'POST', '/api/v1/contacts' + (id ? '/' + id : ''), body).then(function (res) {
      if (!res.ok) { status.textContent = T.error + ': ' + res.body.error.message + (res.body.error.detail ? ' ' + res.body.error.detail : ''); status.className = 'small warn'; return; }
      status.textContent = T.saved + ' ' + res.body.contact_no; status.className = 'small ok';
      var tb = box.querySelector('[data-testid=today-contacts] tbody');
      var empty = tb.querySelector('.empty'); if (empty) empty.parentNode.remove();
      var old = tb.querySelector('tr[data-contact="' + res.body.id + '"]'); if (old) old.remove();
      var tr = el('tr'); tr.dataset.contact = res.body.id;
      [res.body.contact_no, new Date(res.body.started_at).toLocaleString(), f.channel.selectedOptions[0].text, cat ? cat.parentNode.textContent.trim().replace(/^\d+\s*/, '') : '', res.body.caller, res.body.content.slice(0, 60), res.body.status]
        .forEach(function (t) { tr.appendChild(el('td', t)); });
      tb.insertBefore(tr, tb.firstChild);
      form.reset(); f.contact_id.value = ''; box.querySelector('[data-contact-no]').textContent = '';
    });
  }
  form.addEventListener('submit', function (e) { e.preventDefault(); save(); });
  form.addEventListener('reset', function () { form.elements.contact_id.value = ''; box.querySelector('[data-contact-no]').textContent = ''; });
  document.addEventListener('keydown', function (e) {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) { e.preventDefault(); save(); }
    else if (e.altKey && (e.key === 'n' || e.key === 'N')) { e.preventDefault(); form.reset(); form.elements.caller.focus(); }
    else if (e.altKey && /^[1-9]$/.test(e.key)) {
      var r = form.querySelectorAll('input[name=category]')[Number(e.key) - 1];
      if (r) { e.preventDefault(); r.checked = true; }
    }
  });

  box.querySelector('[data-console-search]').addEventListener('submit', function (e) {
    e.preventDefault();
    var q = e.target.elements.q.value.trim(); if (!q) return;
    var out = box.querySelector('[data-console-results]');
    api('GET', '/api/v1/customers?q=' + encodeURIComponent(q)).then(function (res) {
      out.textContent = '';
      if (!res.ok) return;
      if (!res.body.items.length) out.appendChild(el('p', T.none, 'muted'));
      res.body.items.forEach(function (h) { out.appendChild(customerCard(h, [])); });
    });
  });
})();

// Campaign form: show the rule fields of the chosen kind.
(function () {
  'use strict';
  var form = document.querySelector('[data-campaign-form]');
  if (!form) return;
  var kind = form.querySelector('[data-kind]');
  function show() {
    form.querySelectorAll('[data-for]').forEach(function (el) { el.hidden = el.dataset.for !== kind.value; });
  }
  kind.addEventListener('change', show);
  show();
})();

// Console: the agent's call list (return visits, arrears reminders, surveys) with the
// outcome of each attempt.
(function () {
  'use strict';
  var box = document.querySelector('[data-calls]');
  if (!box) return;
  var wd = window.waterdesk;
  var zh = (document.documentElement.lang || '').indexOf('zh') === 0;
  var T = zh
    ? { none: '暂无待呼名单', reached: '接通', no_answer: '无人接听', refused: '拒绝', wrong_number: '号码错误', satisfied: '满意', basically_satisfied: '基本满意', unsatisfied: '不满意', comment: '客户意见', kinds: { arrears: '欠费催缴', return_visit: '回访', survey: '调查' } }
    : { none: 'No calls due', reached: 'Reached', no_answer: 'No answer', refused: 'Refused', wrong_number: 'Wrong number', satisfied: 'Satisfied', basically_satisfied: 'Basically satisfied', unsatisfied: 'Unsatisfied', comment: 'Comment', kinds: { arrears: 'Arrears', return_visit: 'Return visit', survey: 'Survey' } };
  var list = box.querySelector('[data-calls-list]');
  function el(tag, text, cls) { var e = document.createElement(tag); if (text != null) e.textContent = text; if (cls) e.className = cls; return e; }
  function post(url, body) {
    return fetch(url, { method: 'POST', credentials: 'same-origin', headers: { 'content-type': 'application/json', 'x-csrf-token': wd.csrf }, body: JSON.stringify(body) })
      .then(function (r) { return r.json().then(function (j) { return { ok: r.ok, body: j }; }); });
  }
  function render(items) {
    list.textContent = '';
    if (!items.length) { list.appendChild(el('p', T.none, 'muted')); return; }
    items.forEach(function (it) {
      var t = it.target; var row = el('div', null, 'call-item'); row.dataset.target = t.id;
      row.appendChild(el('div', '[' + (T.kinds[it.kind] || it.kind) + '] ' + it.campaign_name + ' · ' + t.subject + ' · ' + t.phone));
      var sat = null; var answers = [];
      if (it.kind === 'return_visit') {
        sat = el('select'); ['satisfied', 'basically_satisfied', 'unsatisfied'].forEach(function (k) { var o = el('option', T[k]); o.value = k; sat.appendChild(o); });
        row.appendChild(sat);
      }
      (it.questions || []).forEach(function (q) { var l = el('label', q + ' '); var i = el('input'); i.dataset.q = q; l.appendChild(i); answers.push(i); row.appendChild(l); });
      var comment = el('input'); comment.placeholder = T.comment; row.appendChild(comment);
      ['reached', 'no_answer', 'refused', 'wrong_number'].forEach(function (o) {
        var b = el('button', T[o], 'btn btn-sm' + (o === 'reached' ? ' btn-primary' : '')); b.type = 'button';
        b.addEventListener('click', function () {
          var body = { outcome: o, comment: comment.value };
          if (o === 'reached' && sat) body.satisfaction = sat.value;
          if (o === 'reached' && answers.length) { body.answers = {}; answers.forEach(function (i) { body.answers[i.dataset.q] = i.value; }); }
          post('/api/v1/campaign-targets/' + t.id + '/attempts', body).then(function (res) {
            if (!res.ok) { wd.toast(res.body.error.message + ' ' + (res.body.error.detail || ''), 'warn'); return; }
            load();
          });
        });
        row.appendChild(b);
      });
      list.appendChild(row);
    });
  }
  function load() {
    fetch('/api/v1/calls', { credentials: 'same-origin' }).then(function (r) { return r.ok ? r.json() : []; }).then(render);
  }
  load();
  setInterval(load, 60000);
})();
