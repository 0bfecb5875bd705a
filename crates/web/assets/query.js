// The query builder (/query, R-DATA-02/03): conditions and AND/OR groups → the query
// document of docs/QUERIES.md → POST /api/v1/orders/query; keyset pages (a stack of
// cursors for "previous"); saved and shared queries; Excel export with progress; print.
(function () {
  'use strict';
  const root = document.querySelector('[data-query-root]');
  if (!root) return;
  const meta = JSON.parse(root.dataset.meta || '{}');
  const t = meta.t || {};
  const wd = window.waterdesk || { csrf: '' };
  const $ = (sel) => root.querySelector(sel);
  const fields = {};
  (meta.fields || []).forEach((f) => { fields[f.code] = f; });
  const MAX_DEPTH = 3;
  let tree = { all: true, items: [] };
  let pages = [null];
  let pageIndex = 0;
  let lastDoc = null;
  let loaded = null;

  function el(tag, attrs, text) {
    const e = document.createElement(tag);
    Object.keys(attrs || {}).forEach((k) => {
      if (k === 'class') e.className = attrs[k];
      else e.setAttribute(k, attrs[k]);
    });
    if (text != null) e.textContent = String(text);
    return e;
  }

  function labelOf(kind, code) {
    const list = (meta.options || {})[kind] || [];
    const hit = list.find((o) => String(o[0]) === String(code));
    return hit ? hit[1] : code;
  }

  function api(method, url, body) {
    return fetch(url, {
      method: method,
      credentials: 'same-origin',
      headers: { 'content-type': 'application/json', 'x-csrf-token': wd.csrf, 'accept': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    }).then((r) => {
      if (r.status === 204) return null;
      return r.json().catch(() => ({})).then((j) => {
        if (!r.ok) throw (j && j.error) || { message: String(r.status) };
        return j;
      });
    });
  }

  function showError(e) {
    const box = $('[data-q-error]');
    if (!e) { box.hidden = true; box.textContent = ''; return; }
    const code = (e.detail || '').split(':')[0];
    const known = (meta.errors || {})[code];
    box.textContent = (known || e.message || t.error) + (e.field ? ' [' + e.field + ']' : '') + (e.detail ? ' — ' + e.detail : '');
    box.hidden = false;
  }

  // ---- the tree --------------------------------------------------------------------

  function newCond() {
    return { field: 'registered_at', op: 'between', value: null };
  }

  function defaultValue(f, op) {
    if (op === 'in' || op === 'not_in') return [];
    if (op === 'between') return { from: '', to: '' };
    if (op === 'is') return true;
    return '';
  }

  function valueEditor(c) {
    const f = fields[c.field];
    const wrap = el('span', { class: 'q-value' });
    const options = (meta.options || {})[c.field];
    const multi = c.op === 'in' || c.op === 'not_in';
    if (c.op === 'between') {
      const type = f.kind === 'date' ? 'date' : 'number';
      ['from', 'to'].forEach((k) => {
        const inp = el('input', { type: type, 'aria-label': f.label + ' ' + t[k], 'data-testid': 'value-' + k });
        if (type === 'number') { inp.min = 1; inp.max = 4; }
        inp.value = (c.value && c.value[k] != null) ? c.value[k] : '';
        inp.addEventListener('change', () => {
          c.value = c.value || {};
          c.value[k] = type === 'number' ? Number(inp.value) : inp.value;
        });
        wrap.appendChild(el('span', {}, t[k] + ' '));
        wrap.appendChild(inp);
        wrap.appendChild(document.createTextNode(' '));
      });
      return wrap;
    }
    if (c.op === 'is') {
      const sel = el('select', { 'aria-label': f.label, 'data-testid': 'value' });
      sel.appendChild(el('option', { value: 'true' }, t.yes));
      sel.appendChild(el('option', { value: 'false' }, t.no));
      sel.value = c.value === false ? 'false' : 'true';
      c.value = sel.value === 'true';
      sel.addEventListener('change', () => { c.value = sel.value === 'true'; });
      wrap.appendChild(sel);
      return wrap;
    }
    if (options) {
      const sel = el('select', { 'aria-label': f.label, 'data-testid': 'value' });
      if (multi) { sel.multiple = true; sel.size = Math.min(6, options.length); sel.title = t.hold_ctrl; }
      options.forEach((o) => sel.appendChild(el('option', { value: String(o[0]) }, o[1])));
      const numeric = f.kind === 'id' || f.kind === 'int';
      const chosen = multi ? (c.value || []).map(String) : [String(c.value == null || c.value === '' ? options[0][0] : c.value)];
      Array.from(sel.options).forEach((o) => { o.selected = chosen.indexOf(o.value) >= 0; });
      const read = () => {
        const vals = Array.from(sel.selectedOptions).map((o) => (numeric ? Number(o.value) : o.value));
        c.value = multi ? vals : vals[0];
      };
      read();
      sel.addEventListener('change', read);
      wrap.appendChild(sel);
      return wrap;
    }
    const inp = el('input', { type: 'text', maxlength: multi ? 4000 : 100, 'aria-label': f.label, 'data-testid': 'value' });
    inp.value = multi ? (c.value || []).join(', ') : (c.value || '');
    inp.addEventListener('input', () => {
      c.value = multi ? inp.value.split(/[,，\s]+/).filter((s) => s) : inp.value;
    });
    wrap.appendChild(inp);
    return wrap;
  }

  function condRow(c, parent, idx) {
    const row = el('div', { class: 'q-cond toolbar', 'data-testid': 'condition' });
    const fsel = el('select', { 'aria-label': 'field', 'data-testid': 'field' });
    (meta.fields || []).forEach((f) => fsel.appendChild(el('option', { value: f.code }, f.label)));
    fsel.value = c.field;
    const osel = el('select', { 'aria-label': 'op', 'data-testid': 'op' });
    fields[c.field].ops.forEach((o) => osel.appendChild(el('option', { value: o }, meta.ops[o])));
    if (fields[c.field].ops.indexOf(c.op) < 0) c.op = fields[c.field].ops[0];
    osel.value = c.op;
    if (c.value == null) c.value = defaultValue(fields[c.field], c.op);
    fsel.addEventListener('change', () => {
      c.field = fsel.value;
      c.op = fields[c.field].ops[0];
      c.value = defaultValue(fields[c.field], c.op);
      render();
    });
    osel.addEventListener('change', () => { c.op = osel.value; c.value = defaultValue(fields[c.field], c.op); render(); });
    const del = el('button', { type: 'button', class: 'btn btn-sm', 'aria-label': t.remove }, '×');
    del.addEventListener('click', () => { parent.items.splice(idx, 1); render(); });
    row.appendChild(fsel);
    row.appendChild(osel);
    row.appendChild(valueEditor(c));
    row.appendChild(del);
    return row;
  }

  function groupBox(g, depth, parent, idx) {
    const box = el('div', { class: 'q-group', 'data-testid': 'group' });
    box.style.borderLeft = '3px solid #9bb7d4';
    box.style.paddingLeft = '10px';
    box.style.margin = '6px 0';
    const head = el('div', { class: 'toolbar' });
    const mode = el('select', { 'aria-label': 'AND/OR', 'data-testid': 'group-mode' });
    mode.appendChild(el('option', { value: 'all' }, t.all));
    mode.appendChild(el('option', { value: 'any' }, t.any));
    mode.value = g.all ? 'all' : 'any';
    mode.addEventListener('change', () => { g.all = mode.value === 'all'; });
    head.appendChild(mode);
    const addC = el('button', { type: 'button', class: 'btn btn-sm', 'data-testid': 'add-condition' }, t.add_condition);
    addC.addEventListener('click', () => { g.items.push(newCond()); render(); });
    head.appendChild(addC);
    if (depth < MAX_DEPTH) {
      const addG = el('button', { type: 'button', class: 'btn btn-sm', 'data-testid': 'add-group' }, t.add_group);
      addG.addEventListener('click', () => { g.items.push({ all: !g.all, items: [newCond()] }); render(); });
      head.appendChild(addG);
    }
    if (parent) {
      const del = el('button', { type: 'button', class: 'btn btn-sm', 'aria-label': t.remove }, '×');
      del.addEventListener('click', () => { parent.items.splice(idx, 1); render(); });
      head.appendChild(del);
    }
    box.appendChild(head);
    g.items.forEach((item, i) => {
      box.appendChild(item.items ? groupBox(item, depth + 1, g, i) : condRow(item, g, i));
    });
    return box;
  }

  function render() {
    const host = $('[data-q-tree]');
    host.textContent = '';
    host.appendChild(groupBox(tree, 1, null, 0));
  }

  function toWhere(g) {
    const items = g.items.map((i) => (i.items ? toWhere(i) : { field: i.field, op: i.op, value: i.value })).filter((x) => x);
    if (!items.length) return null;
    return g.all ? { all: items } : { any: items };
  }

  function fromWhere(w) {
    const all = !!w.all;
    const list = w.all || w.any || [];
    return { all: all, items: list.map((i) => (i.all || i.any ? fromWhere(i) : { field: i.field, op: i.op, value: i.value })) };
  }

  function doc() {
    const d = { sort: [{ field: $('[data-q-sort]').value, dir: $('[data-q-dir]').value }], limit: Number($('[data-q-limit]').value) };
    const w = toWhere(tree);
    if (w) d.where = w;
    return d;
  }

  function load(d) {
    tree = d.where ? fromWhere(d.where) : { all: true, items: [] };
    const s = (d.sort || [])[0];
    if (s) { $('[data-q-sort]').value = s.field; $('[data-q-dir]').value = s.dir || 'asc'; }
    if (d.limit) $('[data-q-limit]').value = String(d.limit);
    render();
  }

  // ---- results ---------------------------------------------------------------------

  function fmt(iso) {
    if (!iso) return '';
    const d = new Date(iso);
    const p = (n) => String(n).padStart(2, '0');
    return d.getFullYear() + '-' + p(d.getMonth() + 1) + '-' + p(d.getDate()) + ' ' + p(d.getHours()) + ':' + p(d.getMinutes());
  }

  function showRows(page) {
    const body = $('[data-q-rows]');
    body.textContent = '';
    if (!page.items.length) {
      const tr = el('tr');
      tr.appendChild(el('td', { colspan: 8, class: 'muted' }, t.no_rows));
      body.appendChild(tr);
    }
    page.items.forEach((r) => {
      const tr = el('tr', { 'data-order': r.id });
      if (r.overdue) tr.className = 'row-overdue';
      const no = el('td', { class: 'nowrap' });
      no.appendChild(el('a', { href: '/orders/' + r.id }, r.order_no));
      tr.appendChild(no);
      tr.appendChild(el('td', { class: 'nowrap' }, fmt(r.registered_at)));
      tr.appendChild(el('td', { class: 'nowrap' }, labelOf('type', r.type_code)));
      tr.appendChild(el('td', { class: 'nowrap' }, labelOf('state', r.state)));
      tr.appendChild(el('td', { class: 'num' }, r.priority));
      tr.appendChild(el('td', { class: 'nowrap' }, labelOf('channel', r.channel)));
      tr.appendChild(el('td', { class: 'nowrap' }, r.unit_name));
      const title = el('td', {}, r.title);
      title.appendChild(el('div', { class: 'muted small' }, r.address));
      tr.appendChild(title);
      body.appendChild(tr);
    });
    $('[data-q-pageinfo]').textContent = t.page + ' ' + (pageIndex + 1) + ' · ' + page.items.length + ' ' + t.rows;
    $('[data-q-prev]').disabled = pageIndex === 0;
    $('[data-q-next]').disabled = !page.next;
    if (page.next) pages[pageIndex + 1] = page.next;
  }

  function run(index) {
    showError(null);
    if (index === 0) { lastDoc = doc(); pages = [null]; }
    const d = Object.assign({}, lastDoc);
    if (pages[index]) d.after = pages[index];
    return api('POST', '/api/v1/orders/query', d).then((page) => { pageIndex = index; showRows(page); }).catch(showError);
  }

  // ---- export and print ------------------------------------------------------------

  function exportXlsx() {
    showError(null);
    const bar = $('[data-q-progress]');
    const prog = bar.querySelector('progress');
    const text = $('[data-q-progress-text]');
    const btn = $('[data-q-export]');
    btn.disabled = true;
    api('POST', '/api/v1/orders/query/exports', doc()).then((run) => {
      bar.hidden = false;
      const poll = () => api('GET', '/api/v1/orders/query/exports/' + run.id).then((r) => {
        const pct = r.total ? Math.round((100 * r.done) / r.total) : 100;
        prog.value = pct;
        text.textContent = t.exporting + ' ' + r.done + ' / ' + r.total + ' (' + pct + '%)';
        if (r.state === 'running') { setTimeout(poll, 600); return; }
        btn.disabled = false;
        if (r.state === 'done') {
          text.textContent = t.export_done + ' ' + r.done + ' ' + t.rows;
          const a = el('a', { href: '/api/v1/orders/query/exports/' + r.id + '/file', download: r.file_name, 'data-testid': 'export-link' }, r.file_name);
          text.appendChild(document.createTextNode(' '));
          text.appendChild(a);
          a.click();
        } else {
          showError({ message: t.error, detail: r.error || '' });
        }
      }).catch((e) => { btn.disabled = false; showError(e); });
      poll();
    }).catch((e) => { btn.disabled = false; showError(e); });
  }

  function print() {
    const d = lastDoc ? Object.assign({}, lastDoc) : doc();
    if (pages[pageIndex]) d.after = pages[pageIndex];
    window.open('/query/print?q=' + encodeURIComponent(JSON.stringify(d)), '_blank');
  }

  // ---- saved queries ---------------------------------------------------------------

  let saved = [];
  function refreshSaved(selectId) {
    return api('GET', '/api/v1/queries').then((list) => {
      saved = list;
      const sel = $('[data-q-saved]');
      sel.textContent = '';
      sel.appendChild(el('option', { value: '' }, '—'));
      list.forEach((s) => {
        const mine = s.owner_id === meta.me;
        const label = s.name + (mine ? (s.shared ? ' (' + t.shared + ')' : '') : ' — ' + s.owner_name);
        sel.appendChild(el('option', { value: String(s.id) }, label));
      });
      sel.value = selectId ? String(selectId) : '';
    }).catch(showError);
  }

  function onLoadSaved() {
    const id = Number($('[data-q-saved]').value);
    loaded = saved.find((s) => s.id === id) || null;
    if (!loaded) return;
    $('[data-q-name]').value = loaded.name;
    $('[data-q-shared]').checked = loaded.shared;
    load(JSON.parse(loaded.definition));
    run(0);
  }

  function onSave() {
    showError(null);
    const body = { name: $('[data-q-name]').value, shared: $('[data-q-shared]').checked, definition: doc() };
    const own = loaded && loaded.owner_id === meta.me && loaded.name === body.name;
    const req = own ? api('PUT', '/api/v1/queries/' + loaded.id, body) : api('POST', '/api/v1/queries', body);
    req.then((s) => { loaded = s; if (wd.toast) wd.toast(t.saved_ok); return refreshSaved(s.id); }).catch(showError);
  }

  function onDelete() {
    if (!loaded || loaded.owner_id !== meta.me) return;
    if (!window.confirm(t.confirm_delete)) return;
    api('DELETE', '/api/v1/queries/' + loaded.id).then(() => {
      loaded = null;
      $('[data-q-name]').value = '';
      if (wd.toast) wd.toast(t.deleted_ok);
      return refreshSaved();
    }).catch(showError);
  }

  // ---- wiring ----------------------------------------------------------------------

  const sortSel = $('[data-q-sort]');
  (meta.sort || []).forEach((s) => sortSel.appendChild(el('option', { value: s[0] }, s[1])));
  $('[data-q-run]').addEventListener('click', () => run(0));
  $('[data-q-next]').addEventListener('click', () => run(pageIndex + 1));
  $('[data-q-prev]').addEventListener('click', () => run(Math.max(0, pageIndex - 1)));
  $('[data-q-export]').addEventListener('click', exportXlsx);
  $('[data-q-print]').addEventListener('click', print);
  $('[data-q-saved]').addEventListener('change', onLoadSaved);
  $('[data-q-save]').addEventListener('click', onSave);
  $('[data-q-delete]').addEventListener('click', onDelete);
  // Enter in a value field runs the query.
  $('[data-q-tree]').addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && e.target.tagName === 'INPUT') { e.preventDefault(); e.target.dispatchEvent(new Event('change')); run(0); }
  });
  render();
  refreshSaved();
})();
