// The dispatcher console (/dispatch): refreshes the queue and draws the map of orders and
// crews with Leaflet over a plain coordinate grid (no map tiles are fetched from anywhere).
(function () {
  'use strict';
  const root = document.querySelector('[data-board-root]');
  if (!root) return;
  const labels = JSON.parse(root.dataset.labels || '{}');
  const rows = root.querySelector('[data-board-rows]');
  const stamp = root.querySelector('[data-board-updated]');
  const colours = { 1: '#c62828', 2: '#ef6c00', 3: '#f9a825', 4: '#607d8b' };
  let map = null;
  let layer = null;
  let fitted = false;

  function cell(text, cls) {
    const td = document.createElement('td');
    if (cls) td.className = cls;
    td.textContent = text == null ? '' : String(text);
    return td;
  }

  function age(iso) {
    const mins = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 60000));
    if (mins < 60) return mins + '′';
    if (mins < 48 * 60) return Math.floor(mins / 60) + 'h';
    return Math.floor(mins / 1440) + 'd';
  }

  function renderQueue(board) {
    // The server-rendered rows carry the state labels; keep them for rows that stay.
    const labelsByOrder = {};
    rows.querySelectorAll('tr[data-order]').forEach((tr) => { labelsByOrder[tr.dataset.order] = tr.children[3].firstChild ? tr.children[3].firstChild.textContent : ''; });
    rows.textContent = '';
    board.orders.forEach((o) => {
      const tr = document.createElement('tr');
      tr.dataset.order = o.id;
      tr.className = (o.waiting ? 'row-waiting' : '') + (o.overdue ? ' row-overdue' : '');
      const prio = cell('');
      const badge = document.createElement('span');
      badge.className = 'badge prio prio-' + o.priority;
      badge.textContent = o.priority;
      prio.appendChild(badge);
      tr.appendChild(prio);
      const no = cell('', 'nowrap');
      const a = document.createElement('a');
      a.href = '/orders/' + o.id;
      a.textContent = o.order_no;
      no.appendChild(a);
      tr.appendChild(no);
      const title = cell(o.title);
      const addr = document.createElement('div');
      addr.className = 'muted small';
      addr.textContent = o.address;
      title.appendChild(addr);
      tr.appendChild(title);
      tr.appendChild(cell(labelsByOrder[o.id] || o.state, 'nowrap'));
      tr.appendChild(cell(o.assignee, 'nowrap'));
      tr.appendChild(cell(age(o.created_at), 'nowrap'));
      rows.appendChild(tr);
    });
    const set = (k, v) => { const el = document.querySelector('[data-board=' + k + ']'); if (el) el.textContent = v; };
    set('waiting', board.orders.filter((o) => o.waiting).length);
    set('open', board.orders.length);
    set('overdue', board.orders.filter((o) => o.overdue).length);
    set('crews', board.crews.length);
    if (stamp) stamp.textContent = new Date().toLocaleTimeString();
  }

  function renderMap(board) {
    if (!window.L) return;
    if (!map) {
      map = L.map('board-map', { zoomControl: true, attributionControl: false, preferCanvas: true });
      map.setView([30.27, 120.15], 12);
      // A plain grid every 0.01° instead of map tiles.
      const grid = L.layerGroup().addTo(map);
      for (let lat = 29.9; lat <= 30.6; lat += 0.01) L.polyline([[lat, 119.8], [lat, 120.6]], { color: '#e3e8ee', weight: 1, interactive: false }).addTo(grid);
      for (let lng = 119.8; lng <= 120.6; lng += 0.01) L.polyline([[29.9, lng], [30.6, lng]], { color: '#e3e8ee', weight: 1, interactive: false }).addTo(grid);
    }
    if (layer) layer.remove();
    layer = L.featureGroup().addTo(map);
    board.orders.filter((o) => o.lat != null).forEach((o) => {
      const m = L.circleMarker([o.lat, o.lng], {
        radius: o.waiting ? 9 : 6, color: o.overdue ? '#b71c1c' : '#fff', weight: o.overdue ? 3 : 1,
        fillColor: colours[o.priority] || '#607d8b', fillOpacity: 0.9,
      });
      const box = document.createElement('div');
      const a = document.createElement('a');
      a.href = '/orders/' + o.id;
      a.textContent = o.order_no;
      box.appendChild(a);
      box.appendChild(document.createElement('br'));
      box.appendChild(document.createTextNode(o.title + (o.assignee ? ' · ' + o.assignee : '')));
      m.bindPopup(box);
      m.addTo(layer);
    });
    board.crews.filter((c) => c.lat != null).forEach((c) => {
      const m = L.circleMarker([c.lat, c.lng], { radius: 7, color: '#fff', weight: 2, fillColor: '#0b5cad', fillOpacity: 1 });
      m.bindTooltip(c.display_name + ' · ' + (labels.in_hand || '') + ' ' + c.open_orders, { direction: 'top' });
      m.addTo(layer);
    });
    if (!fitted && layer.getLayers().length) {
      map.fitBounds(layer.getBounds().pad(0.2));
      fitted = true;
    }
  }

  let busy = false;
  async function refresh() {
    if (busy) return;
    busy = true;
    try {
      const r = await fetch('/api/v1/dispatch/board', { headers: { Accept: 'application/json' } });
      if (r.ok) {
        const board = await r.json();
        renderQueue(board);
        renderMap(board);
      }
    } catch (_) { /* next round */ } finally { busy = false; }
  }

  window.addEventListener('load', refresh);
  setInterval(refresh, 15000);
  if (window.EventSource) {
    const es = new EventSource('/api/v1/events/stream');
    ['order.escalated', 'order.auto_dispatch_failed'].forEach((k) => es.addEventListener(k, refresh));
  }
})();
