// A small inline-SVG chart with axes (min and max on the left, start and
// end times below, in the city's zone), drawn without a charting library.

import { T, clock, num } from './i18n.js';

const NS = 'http://www.w3.org/2000/svg';

function svgEl(tag, attrs, text) {
  const e = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

/**
 * Draws points [{time, value}] as a polyline of width x height with axes;
 * scale multiplies values (100 for ratios shown in %), unit labels the
 * value axis. The aria-label gives the range and the latest value.
 * @returns {SVGSVGElement}
 */
export function sparkline(points, { width = 260, height = 72, label = '', unit = '', scale = 1 } = {}) {
  const svg = svgEl('svg', { width, height, viewBox: `0 0 ${width} ${height}`, role: 'img' });
  svg.classList.add('sparkline');
  const pts = points
    .map((p) => ({ t: Date.parse(p.time), v: typeof p.value === 'number' ? p.value * scale : NaN }))
    .filter((p) => Number.isFinite(p.t) && Number.isFinite(p.v));
  const u = unit ? ' ' + unit : '';
  if (pts.length === 0) {
    svg.setAttribute('aria-label', `${label}: ${T.noHistory}`);
    svg.appendChild(svgEl('text', { x: 4, y: height / 2 + 4, class: 'axis' }, T.noHistory));
    return svg;
  }
  const left = 40;
  const bottom = 14;
  const t0 = pts[0].t;
  const t1 = pts[pts.length - 1].t;
  let lo = Infinity;
  let hi = -Infinity;
  for (const p of pts) { lo = Math.min(lo, p.v); hi = Math.max(hi, p.v); }
  const top = 4;
  const x = (t) => (t1 === t0 ? (left + width) / 2 : left + ((t - t0) / (t1 - t0)) * (width - left - 3));
  const y = (v) => (hi === lo ? (height - bottom + top) / 2 : height - bottom - ((v - lo) / (hi - lo)) * (height - bottom - top));
  svg.appendChild(svgEl('line', { x1: left - 2, y1: top, x2: left - 2, y2: height - bottom, class: 'axis-line' }));
  svg.appendChild(svgEl('line', { x1: left - 2, y1: height - bottom, x2: width, y2: height - bottom, class: 'axis-line' }));
  svg.appendChild(svgEl('text', { x: left - 5, y: top + 8, 'text-anchor': 'end', class: 'axis' }, num(hi)));
  svg.appendChild(svgEl('text', { x: left - 5, y: height - bottom, 'text-anchor': 'end', class: 'axis' }, num(lo)));
  svg.appendChild(svgEl('text', { x: left, y: height - 2, class: 'axis' }, clock(t0)));
  svg.appendChild(svgEl('text', { x: width - 2, y: height - 2, 'text-anchor': 'end', class: 'axis' }, clock(t1)));
  svg.appendChild(svgEl('polyline', {
    points: pts.map((p) => `${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`).join(' '),
    fill: 'none', stroke: 'currentColor', 'stroke-width': 1.5,
  }));
  const last = pts[pts.length - 1];
  svg.appendChild(svgEl('circle', { cx: x(last.t).toFixed(1), cy: y(last.v).toFixed(1), r: 2.5, fill: 'currentColor' }));
  svg.setAttribute('aria-label', `${label}: ${pts.length} punti, min ${num(lo)}${u}, max ${num(hi)}${u}, ultimo ${num(last.v)}${u}`);
  return svg;
}
