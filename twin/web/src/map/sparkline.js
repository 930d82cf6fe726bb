// A small inline-SVG sparkline, drawn without a charting library.

const NS = 'http://www.w3.org/2000/svg';

/**
 * Draws points [{time, value}] as an SVG polyline of width x height, with
 * an aria-label giving the range and the latest value.
 * @returns {SVGSVGElement}
 */
export function sparkline(points, { width = 220, height = 48, label = '', unit = '' } = {}) {
  const svg = document.createElementNS(NS, 'svg');
  svg.setAttribute('width', String(width));
  svg.setAttribute('height', String(height));
  svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
  svg.setAttribute('role', 'img');
  svg.classList.add('sparkline');
  const pts = points
    .map((p) => ({ t: Date.parse(p.time), v: typeof p.value === 'number' ? p.value : NaN }))
    .filter((p) => Number.isFinite(p.t) && Number.isFinite(p.v));
  if (pts.length === 0) {
    svg.setAttribute('aria-label', `${label}: no history in this period`);
    const t = document.createElementNS(NS, 'text');
    t.setAttribute('x', '4');
    t.setAttribute('y', String(height / 2 + 4));
    t.textContent = 'no history';
    svg.appendChild(t);
    return svg;
  }
  const t0 = pts[0].t;
  const t1 = pts[pts.length - 1].t;
  let lo = Infinity;
  let hi = -Infinity;
  for (const p of pts) { lo = Math.min(lo, p.v); hi = Math.max(hi, p.v); }
  const pad = 3;
  const x = (t) => (t1 === t0 ? width / 2 : pad + ((t - t0) / (t1 - t0)) * (width - 2 * pad));
  const y = (v) => (hi === lo ? height / 2 : height - pad - ((v - lo) / (hi - lo)) * (height - 2 * pad));
  const line = document.createElementNS(NS, 'polyline');
  line.setAttribute('points', pts.map((p) => `${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`).join(' '));
  line.setAttribute('fill', 'none');
  line.setAttribute('stroke', 'currentColor');
  line.setAttribute('stroke-width', '1.5');
  svg.appendChild(line);
  const last = pts[pts.length - 1];
  const dot = document.createElementNS(NS, 'circle');
  dot.setAttribute('cx', x(last.t).toFixed(1));
  dot.setAttribute('cy', y(last.v).toFixed(1));
  dot.setAttribute('r', '2.5');
  dot.setAttribute('fill', 'currentColor');
  svg.appendChild(dot);
  const u = unit ? ' ' + unit : '';
  svg.setAttribute('aria-label', `${label}: ${pts.length} points, min ${lo}${u}, max ${hi}${u}, latest ${last.v}${u}`);
  return svg;
}
