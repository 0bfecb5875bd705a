// The crews' phone app (/m): offline shell, position pings, the new-order alert, GPS
// check-in, photo and video uploads with progress, and the customer's signature.
// Everything here enhances plain forms; without it the steps still work.
(function () {
  'use strict';
  if (!document.body.classList.contains('field')) return;
  const csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || '';
  const status = document.getElementById('field-status');
  let last = null; // the last known position {lat, lng, accuracy}

  if ('serviceWorker' in navigator) {
    navigator.serviceWorker.register('/m/sw.js', { scope: '/m' }).catch(() => {});
  }

  // Position pings for dispatch (R-WO-06): at most once a minute, and when it moved.
  let sentAt = 0;
  function ping(pos) {
    last = { lat: pos.coords.latitude, lng: pos.coords.longitude, accuracy: pos.coords.accuracy };
    if (window.waterdesk) window.waterdesk.position = last;
    const now = Date.now();
    if (now - sentAt < 60000) return;
    sentAt = now;
    fetch('/api/v1/crew/position', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf },
      body: JSON.stringify({ lat: last.lat, lng: last.lng, accuracy_m: Math.min(last.accuracy || 0, 100000) }),
    }).then((r) => { if (status) status.classList.toggle('ok', r.ok); }).catch(() => status && status.classList.remove('ok'));
  }
  if ('geolocation' in navigator) {
    navigator.geolocation.watchPosition(ping, () => status && status.classList.remove('ok'),
      { enableHighAccuracy: true, maximumAge: 30000, timeout: 20000 });
  }

  // The new-order alert (R-WO-07): a banner, a vibration, a link to the order.
  if (window.EventSource) {
    const es = new EventSource('/api/v1/events/stream');
    es.addEventListener('order.assigned', (ev) => {
      let e;
      try { e = JSON.parse(ev.data); } catch (_) { return; }
      const p = e.payload || {};
      const box = document.getElementById('field-alert');
      const text = (document.getElementById('main').dataset.alertText || 'New order') + '：' + (p.order_no || '') + ' ' + (p.title || '');
      if (box) {
        box.textContent = '';
        const a = document.createElement('a');
        a.href = '/m/orders/' + p.order_id;
        a.textContent = text + (p.address ? ' · ' + p.address : '');
        box.appendChild(a);
        box.hidden = false;
      }
      if (navigator.vibrate) navigator.vibrate([300, 100, 300]);
    });
  }

  // GPS check-in: the start step carries where the crew member is; without a fix it is
  // sent anyway (the server flags check-ins far from the site, it does not refuse them).
  document.querySelectorAll('form[data-geo]').forEach((form) => {
    form.addEventListener('submit', (ev) => {
      if (form.dataset.located === '1' || !('geolocation' in navigator)) return;
      ev.preventDefault();
      const done = (pos) => {
        if (pos) {
          form.elements.lat.value = pos.coords.latitude.toFixed(6);
          form.elements.lng.value = pos.coords.longitude.toFixed(6);
        } else if (last) {
          form.elements.lat.value = last.lat.toFixed(6);
          form.elements.lng.value = last.lng.toFixed(6);
        }
        form.dataset.located = '1';
        form.submit();
      };
      navigator.geolocation.getCurrentPosition(done, () => done(null), { enableHighAccuracy: true, timeout: 10000, maximumAge: 60000 });
    });
  });

  // Photos and videos go through the page's generic uploader (app.js, data-upload);
  // the signature below uses the same upload function.
  const files = document.getElementById('field-files');
  const wd = window.waterdesk;
  if (files) {
    // The customer's signature: drawn with a finger, sent as a PNG.
    const canvas = document.getElementById('field-signature');
    const ctx = canvas.getContext('2d');
    let drawing = false;
    let signed = false;
    const blank = () => { ctx.fillStyle = '#fff'; ctx.fillRect(0, 0, canvas.width, canvas.height); };
    blank();
    ctx.lineWidth = 3;
    ctx.lineCap = 'round';
    ctx.strokeStyle = '#111';
    const at = (e) => {
      const r = canvas.getBoundingClientRect();
      return [(e.clientX - r.left) * canvas.width / r.width, (e.clientY - r.top) * canvas.height / r.height];
    };
    canvas.addEventListener('pointerdown', (e) => {
      drawing = true; signed = true;
      try { canvas.setPointerCapture(e.pointerId); } catch (_) { /* synthetic or lost pointer */ }
      const [x, y] = at(e);
      ctx.beginPath(); ctx.moveTo(x, y);
    });
    canvas.addEventListener('pointermove', (e) => {
      if (!drawing) return;
      const [x, y] = at(e);
      ctx.lineTo(x, y); ctx.stroke();
    });
    canvas.addEventListener('pointerup', () => { drawing = false; });
    document.getElementById('field-sign-clear').addEventListener('click', () => {
      blank(); signed = false;
    });
    document.getElementById('field-sign-save').addEventListener('click', () => {
      if (!signed) return;
      canvas.toBlob(async (blob) => {
        try {
          await wd.upload(files.dataset.upload, blob, 'signature.png', 'signature', document.getElementById('field-progress'));
          location.reload();
        } catch (e) {
          wd.toast(e.message, 'error');
        }
      }, 'image/png');
    });
  }
})();
