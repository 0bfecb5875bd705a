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
  window.waterdesk = { toast: toast, csrf: csrf };

  if (window.EventSource && document.getElementById('sidebar')) {
    var es = new EventSource('/api/v1/events/stream');
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
