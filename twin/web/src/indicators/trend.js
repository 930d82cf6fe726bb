// A small line chart of an area's indicator over the last day or week
// (GET /api/v1/indicators/history), drawn as inline SVG, with a toggle
// between the two windows.

const W = 260;
const H = 70;
const PAD = { l: 4, r: 4, t: 12, b: 14 };

function svgEl(tag, attrs) {
  const e = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  return e;
}

/** Draws points ({time, value}) into an SVG labelled for people. */
function chart(points, name, unit, week, i18n, label) {
  const svg = svgEl('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': label });
  const ts = points.map((p) => new Date(p.time).getTime());
  const vs = points.map((p) => p.value);
  const t0 = Math.min(...ts);
  const t1 = Math.max(...ts, t0 + 1);
  let v0 = Math.min(...vs);
  let v1 = Math.max(...vs);
  if (v0 === v1) { v0 -= 1; v1 += 1; }
  const x = (t) => PAD.l + ((t - t0) / (t1 - t0)) * (W - PAD.l - PAD.r);
  const y = (v) => PAD.t + (1 - (v - v0) / (v1 - v0)) * (H - PAD.t - PAD.b);
  svg.appendChild(svgEl('line', { class: 'axis', x1: PAD.l, x2: W - PAD.r, y1: H - PAD.b, y2: H - PAD.b }));
  svg.appendChild(svgEl('polyline', { class: 'line', points: points.map((p, i) => `${x(ts[i]).toFixed(1)},${y(p.value).toFixed(1)}`).join(' ') }));
  const text = (s, attrs) => { const e = svgEl('text', attrs); e.textContent = s; svg.appendChild(e); };
  text('↑ ' + i18n.plain(name, unit, Math.max(...vs)), { x: PAD.l, y: 9 });
  text('↓ ' + i18n.plain(name, unit, Math.min(...vs)), { x: W - PAD.r, y: 9, 'text-anchor': 'end' });
  text(i18n.tick(new Date(t0), week), { x: PAD.l, y: H - 2 });
  text(i18n.tick(new Date(t1), week), { x: W - PAD.r, y: H - 2, 'text-anchor': 'end' });
  return svg;
}

/**
 * A trend block for an area's indicator, or null. It fetches on demand
 * and removes itself when the API has no history for it.
 * @param {string} api the API's base path
 * @param {{id:string,name:string}} area
 * @param {{name:string,label:string,unit:string}} def
 * @param {object} i18n from makeI18n
 */
export function trend(api, area, def, i18n) {
  const box = document.createElement('div');
  box.className = 'trend';
  const head = document.createElement('div');
  head.className = 'head';
  const title = document.createElement('span');
  title.textContent = i18n.t('trend', { ind: def.label });
  const buttons = document.createElement('span');
  const plot = document.createElement('div');
  head.append(title, buttons);
  box.append(head, plot);
  const show = async (window) => {
    for (const b of buttons.children) b.setAttribute('aria-pressed', String(b.dataset.window === window));
    try {
      const q = new URLSearchParams({ area: area.id, indicator: def.name, window });
      const r = await fetch(`${api}/indicators/history?${q}`);
      if (!r.ok) { box.remove(); return; }
      const h = await r.json();
      const points = (h.points || []).filter((p) => Number.isFinite(p.value));
      const span = i18n.t(window === '7d' ? 'week' : 'day');
      if (points.length === 0) {
        const p = document.createElement('p');
        p.className = 'muted';
        p.textContent = i18n.t('noHistory');
        plot.replaceChildren(p);
      } else {
        const vs = points.map((p) => p.value);
        const label = i18n.t('chartAria', { ind: def.label, area: area.name, span,
          min: i18n.plain(def.name, def.unit, Math.min(...vs)), max: i18n.plain(def.name, def.unit, Math.max(...vs)) });
        plot.replaceChildren(chart(points, def.name, def.unit, window === '7d', i18n, label));
      }
      box.dataset.window = window;
      box.dataset.points = String(points.length);
    } catch { box.remove(); }
  };
  for (const [w, key] of [['24h', 'day'], ['7d', 'week']]) {
    const b = document.createElement('button');
    b.type = 'button';
    b.dataset.window = w;
    b.textContent = i18n.t(key);
    b.addEventListener('click', () => show(w));
    buttons.appendChild(b);
  }
  show('24h');
  return box;
}
