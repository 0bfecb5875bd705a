// The supervisor dashboard (/dashboard, R-DATA-07): charts with ECharts and the repair map
// with Leaflet over a plain coordinate grid (no tiles from anywhere). Data from
// GET /api/v1/stats/dashboard: every 30 s, and at once when the server announces a change
// (`stats.changed`, `order.escalated` on the event stream), at most every 2 s.
(function () {
  'use strict';
  const root = document.querySelector('[data-dash-root]');
  if (!root) return;
  const L10N = JSON.parse(root.dataset.labels || '{}');
  const T = L10N.texts || {};
  const charts = {};
  let map = null;
  let heat = null;
  let fitted = false;

  const label = (dict, code) => (L10N[dict] && L10N[dict][code]) || code;
  const pct = (v) => (v == null ? null : Math.round(v * 1000) / 10);
  const setText = (sel, v) => { const el = root.querySelector(sel); if (el) el.textContent = v; };

  function chart(name) {
    if (!window.echarts) return null;
    if (!charts[name]) {
      const el = root.querySelector('[data-chart=' + name + ']');
      if (!el) return null;
      charts[name] = echarts.init(el, null, { renderer: 'canvas' });
    }
    return charts[name];
  }

  function empty(c) {
    c.setOption({ title: { text: T.no_data || '—', left: 'center', top: 'middle', textStyle: { color: '#6b7785', fontSize: 13, fontWeight: 'normal' } }, series: [] }, true);
  }

  function renderIntake(d) {
    const c = chart('intake');
    if (!c) return;
    if (!d.intake.length) return empty(c);
    c.setOption({
      tooltip: { trigger: 'axis', axisPointer: { type: 'shadow' } },
      legend: { top: 0 },
      grid: { left: 8, right: 8, bottom: 8, top: 32, containLabel: true },
      xAxis: { type: 'category', data: d.intake.map((r) => label('channels', r.channel)), axisLabel: { interval: 0, rotate: d.intake.length > 4 ? 30 : 0 } },
      yAxis: { type: 'value', minInterval: 1 },
      series: [
        { name: T.contacts, type: 'bar', stack: 'n', data: d.intake.map((r) => r.contacts), itemStyle: { color: '#0b6bcb' } },
        { name: T.orders, type: 'bar', stack: 'n', data: d.intake.map((r) => r.orders), itemStyle: { color: '#5db0ff' } },
      ],
    }, true);
  }

  function renderUnits(d) {
    const c = chart('units');
    if (!c) return;
    if (!d.units.length) return empty(c);
    const rows = d.units.slice().sort((a, b) => a.open - b.open);
    c.setOption({
      tooltip: { trigger: 'axis', axisPointer: { type: 'shadow' } },
      legend: { top: 0 },
      grid: { left: 8, right: 16, bottom: 8, top: 32, containLabel: true },
      xAxis: { type: 'value', minInterval: 1 },
      yAxis: { type: 'category', data: rows.map((r) => label('units', String(r.unit_id))) },
      series: [
        { name: T.open, type: 'bar', data: rows.map((r) => r.open), itemStyle: { color: '#0b6bcb' } },
        { name: T.overdue, type: 'bar', data: rows.map((r) => r.overdue), itemStyle: { color: '#c62828' } },
      ],
    }, true);
  }

  function renderTrend(d) {
    const c = chart('trend');
    if (!c) return;
    c.setOption({
      tooltip: { trigger: 'axis', valueFormatter: (v) => (v == null ? '—' : v) },
      legend: { top: 0 },
      grid: { left: 8, right: 8, bottom: 8, top: 32, containLabel: true },
      xAxis: { type: 'category', data: d.trend.map((r) => r.day.slice(5)) },
      yAxis: [
        { type: 'value', min: 0, max: 100, axisLabel: { formatter: '{value}%' } },
        { type: 'value', minInterval: 1, splitLine: { show: false } },
      ],
      series: [
        { name: T.registered, type: 'bar', yAxisIndex: 1, data: d.trend.map((r) => r.registered), itemStyle: { color: '#dbe7f5' } },
        { name: T.timeliness, type: 'line', connectNulls: true, data: d.trend.map((r) => pct(r.processed_on_time_rate)), itemStyle: { color: '#1e8e3e' } },
        { name: T.satisfaction, type: 'line', connectNulls: true, data: d.trend.map((r) => pct(r.visit_satisfied_rate)), itemStyle: { color: '#ef6c00' } },
      ],
    }, true);
  }

  function renderCategories(d) {
    const c = chart('categories');
    if (!c) return;
    if (!d.top_categories.length) return empty(c);
    const name = (r) => {
      const t = label('types', r.type_code);
      return r.category ? t + ' · ' + label('categories', r.category) : t;
    };
    const narrow = root.clientWidth < 600;
    c.setOption({
      tooltip: { trigger: 'item', formatter: '{b}: {c} ({d}%)' },
      legend: narrow ? { bottom: 0, type: 'scroll' } : { orient: 'vertical', right: 0, top: 'middle', type: 'scroll' },
      series: [{
        type: 'pie', radius: ['38%', '68%'], center: narrow ? ['50%', '42%'] : ['38%', '50%'],
        label: { show: false }, data: d.top_categories.map((r) => ({ name: name(r), value: r.orders })),
      }],
    }, true);
  }

  function renderMap(d) {
    if (!window.L) return;
    if (!map) {
      map = L.map('dash-map', { zoomControl: true, attributionControl: false, preferCanvas: true });
      map.setView([30.27, 120.15], 11);
      // A plain grid every 0.05° instead of map tiles.
      const grid = L.layerGroup().addTo(map);
      for (let lat = 29.5; lat <= 31.0; lat += 0.05) L.polyline([[lat, 119.5], [lat, 120.8]], { color: '#e3e8ee', weight: 1, interactive: false }).addTo(grid);
      for (let lng = 119.5; lng <= 120.8; lng += 0.05) L.polyline([[29.5, lng], [31.0, lng]], { color: '#e3e8ee', weight: 1, interactive: false }).addTo(grid);
    }
    if (heat) heat.remove();
    heat = L.featureGroup().addTo(map);
    const max = d.repairs.reduce((m, c) => Math.max(m, c.orders), 1);
    let total = 0;
    d.repairs.forEach((c) => {
      total += c.orders;
      const share = c.orders / max;
      // Small and yellow for one repair, large and dark red for the busiest cell.
      const colour = share > 0.66 ? '#b71c1c' : share > 0.33 ? '#ef6c00' : '#f9a825';
      L.circleMarker([c.lat, c.lng], { radius: 5 + 13 * Math.sqrt(share), color: colour, weight: 1, fillColor: colour, fillOpacity: 0.55 })
        .bindTooltip(String(c.orders), { direction: 'top' })
        .addTo(heat);
    });
    setText('[data-dash-repairs]', '· ' + total + ' ' + (T.repairs || ''));
    if (!fitted && heat.getLayers().length) {
      map.fitBounds(heat.getBounds().pad(0.15));
      fitted = true;
    }
  }

  function render(d) {
    const sum = (rows, k) => rows.reduce((n, r) => n + r[k], 0);
    setText('[data-dash-stat=contacts]', sum(d.intake, 'contacts'));
    setText('[data-dash-stat=orders]', sum(d.intake, 'orders'));
    setText('[data-dash-stat=open]', sum(d.units, 'open'));
    setText('[data-dash-stat=overdue]', sum(d.units, 'overdue'));
    renderIntake(d);
    renderUnits(d);
    renderTrend(d);
    renderCategories(d);
    renderMap(d);
    setText('[data-dash-updated]', new Date(d.generated_at).toLocaleTimeString());
    root.dataset.rendered = String(Number(root.dataset.rendered || 0) + 1);
  }

  let busy = false;
  let last = 0;
  let pending = null;
  async function refresh() {
    if (busy) return;
    busy = true;
    last = Date.now();
    try {
      const r = await fetch('/api/v1/stats/dashboard', { headers: { Accept: 'application/json' } });
      if (r.ok) render(await r.json());
    } catch (_) { /* next round */ } finally { busy = false; }
  }
  // Bursts of events make one refresh.
  function soon() {
    if (pending) return;
    pending = setTimeout(() => { pending = null; refresh(); }, Math.max(0, 2000 - (Date.now() - last)));
  }

  window.addEventListener('load', () => {
    try { render(JSON.parse(root.dataset.dash)); } catch (_) { refresh(); }
  });
  window.addEventListener('resize', () => { Object.values(charts).forEach((c) => c.resize()); if (map) map.invalidateSize(); });
  setInterval(refresh, 30000);
  if (window.EventSource) {
    const es = new EventSource('/api/v1/events/stream');
    ['stats.changed', 'order.escalated'].forEach((k) => es.addEventListener(k, soon));
  }
})();
