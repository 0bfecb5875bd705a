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
