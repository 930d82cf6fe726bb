// Ponte public indicators page: per-area cards and, when the API serves
// the areas' shapes (GET /api/v1/areas.geojson), an SVG choropleth drawn
// with an equirectangular projection. Vanilla JS, no framework.
//
// URL parameters: embed=1 hides the header and footer (for an <iframe>);
// area=ID[,ID] shows only those areas.

import { NO_DATA, RAMP, classes, fmt, indicatorLabel, rampColor, unitText } from '../shared/ramp.js';

const API = '/api/v1';
const REFRESH_MS = 60000;
const params = new URLSearchParams(location.search);
if (params.get('embed') === '1') document.documentElement.classList.add('embed');
const onlyAreas = (params.get('area') || '').split(',').map((s) => s.trim()).filter(Boolean);

const $ = (id) => document.getElementById(id);
let indicators = null;
let shapes = null;
let chosen = '';

function el(tag, text, attrs) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = text;
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  return e;
}

function valueText(i) {
  return i.value === null || i.value === undefined ? 'no data' : `${fmt(i.value)}${unitText(i.unit)}`;
}

/** One card: a heading, a table of indicators and their definitions. */
function card(id, name, inds, cls) {
  const headingId = `h-${cls}-${id}`.replace(/[^A-Za-z0-9_-]/g, '_');
  // The card's accessible name reads the values (aria-label, not
  // aria-labelledby, which would win and read only the heading).
  const art = el('article', null, { class: `card ${cls}`, tabindex: '0', 'data-id': id });
  art.setAttribute('aria-label', `${name}: ` + inds.map((i) => `${indicatorLabel(i.name)} ${valueText(i)}`).join('; '));
  art.appendChild(el('h3', name, { id: headingId }));
  const t = el('table');
  t.appendChild(el('caption', `Indicators of ${name}`, { class: 'visually-hidden' }));
  for (const i of inds) {
    const tr = el('tr');
    const th = el('th', indicatorLabel(i.name), { scope: 'row' });
    const td = el('td', valueText(i), { 'data-indicator': i.name });
    td.appendChild(el('span', `${i.sensors} sensor${i.sensors === 1 ? '' : 's'} · ${i.window}`, { class: 'sub' }));
    tr.append(th, td);
    t.appendChild(tr);
  }
  art.appendChild(t);
  const det = el('details');
  det.appendChild(el('summary', 'How these are computed'));
  const dl = el('dl');
  for (const i of inds) {
    dl.append(el('dt', indicatorLabel(i.name)), el('dd', `${i.definition || ''} Window: ${i.window}; unit: ${i.unit || 'none'}.`));
  }
  det.appendChild(dl);
  art.appendChild(det);
  return art;
}

function areasShown() {
  const all = (indicators && indicators.areas) || [];
  return onlyAreas.length ? all.filter((a) => onlyAreas.includes(a.id)) : all;
}

function renderCards() {
  const city = indicators.city || [];
  $('city').hidden = city.length === 0 || onlyAreas.length > 0;
  $('city-cards').replaceChildren(card('city', 'Whole city', city, 'city-card'));
  const areas = areasShown();
  $('areas').hidden = false;
  $('area-cards').replaceChildren(...areas.map((a) => card(a.id, a.name || a.id, a.indicators || [], 'area-card')));
  $('generated').textContent = indicators.generated ? `Computed ${new Date(indicators.generated).toLocaleString()}.` : '';
}

function indicatorNames() {
  const names = [];
  for (const i of indicators.city || []) if (!names.includes(i.name)) names.push(i.name);
  for (const a of indicators.areas || []) for (const i of a.indicators || []) if (!names.includes(i.name)) names.push(i.name);
  return names;
}

// --- choropleth ---------------------------------------------------------------

function rings(geom) {
  if (!geom) return [];
  if (geom.type === 'Polygon') return geom.coordinates;
  if (geom.type === 'MultiPolygon') return geom.coordinates.flat();
  return [];
}

/** Equirectangular projection fitted to the bounding box of the features. */
function projection(features, width) {
  let minX = Infinity; let minY = Infinity; let maxX = -Infinity; let maxY = -Infinity;
  for (const f of features) for (const r of rings(f.geometry)) for (const [x, y] of r) {
    minX = Math.min(minX, x); maxX = Math.max(maxX, x); minY = Math.min(minY, y); maxY = Math.max(maxY, y);
  }
  const k = Math.cos(((minY + maxY) / 2) * Math.PI / 180);
  const w = Math.max((maxX - minX) * k, 1e-9);
  const h = Math.max(maxY - minY, 1e-9);
  const s = width / w;
  return { project: ([x, y]) => [(x - minX) * k * s, (maxY - y) * s], width, height: Math.ceil(h * s) };
}

function renderChoropleth() {
  if (!shapes || !indicators) return;
  const names = indicatorNames();
  if (!names.includes(chosen)) chosen = names[0] || '';
  const sel = $('choropleth-indicator');
  sel.replaceChildren(...names.map((n) => new Option(indicatorLabel(n), n)));
  sel.value = chosen;
  const byId = new Map(areasShown().map((a) => [a.id, a]));
  const feats = shapes.features.filter((f) => byId.has(String(f.id)));
  if (feats.length === 0) { $('choropleth').hidden = true; return; }
  const value = (a) => { const i = (a.indicators || []).find((x) => x.name === chosen); return i ? i : null; };
  const c = classes(feats.map((f) => { const i = value(byId.get(String(f.id))); return i ? i.value : null; }));
  const NS = 'http://www.w3.org/2000/svg';
  const p = projection(feats, 800);
  const svg = document.createElementNS(NS, 'svg');
  svg.setAttribute('viewBox', `-4 -4 ${p.width + 8} ${p.height + 8}`);
  svg.setAttribute('role', 'group');
  svg.setAttribute('aria-label', `Map of the areas coloured by ${indicatorLabel(chosen)}`);
  for (const f of feats) {
    const a = byId.get(String(f.id));
    const i = value(a);
    const d = rings(f.geometry).map((r) => 'M' + r.map((pt) => p.project(pt).map((n) => n.toFixed(1)).join(',')).join('L') + 'Z').join('');
    const path = document.createElementNS(NS, 'path');
    path.setAttribute('d', d);
    path.setAttribute('fill-rule', 'evenodd');
    path.setAttribute('fill', rampColor(i ? i.value : null, c));
    path.setAttribute('tabindex', '0');
    path.setAttribute('role', 'img');
    path.setAttribute('data-id', a.id);
    const label = `${a.name || a.id}: ${indicatorLabel(chosen)} ${i ? valueText(i) : 'no data'}`;
    path.setAttribute('aria-label', label);
    const title = document.createElementNS(NS, 'title');
    title.textContent = label;
    path.appendChild(title);
    const go = () => { const cardEl = document.querySelector(`.area-card[data-id="${CSS.escape(a.id)}"]`); if (cardEl) { cardEl.scrollIntoView({ block: 'nearest' }); cardEl.focus(); } };
    path.addEventListener('click', go);
    path.addEventListener('keydown', (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); go(); } });
    svg.appendChild(path);
  }
  $('choropleth-map').replaceChildren(svg);
  const unit = (indicators.city || []).concat(...(indicators.areas || []).map((x) => x.indicators || [])).find((x) => x.name === chosen)?.unit || '';
  const items = [];
  if (c) {
    const edges = [c.min, ...c.breaks, c.max];
    const n = c.max === c.min ? 1 : RAMP.length;
    for (let k = 0; k < n; k++) {
      const li = el('li');
      const sw = el('span', null, { class: 'swatch', 'aria-hidden': 'true' });
      sw.style.background = n === 1 ? RAMP[Math.floor(RAMP.length / 2)] : RAMP[k];
      li.append(sw, document.createTextNode(n === 1 ? `${fmt(c.min)}${unitText(unit)}` : `${fmt(edges[k])} – ${fmt(edges[k + 1])}${unitText(unit)}`));
      items.push(li);
    }
  }
  const li = el('li');
  const sw = el('span', null, { class: 'swatch', 'aria-hidden': 'true' });
  sw.style.background = NO_DATA;
  li.append(sw, document.createTextNode('no data'));
  items.push(li);
  $('choropleth-legend').replaceChildren(...items);
  $('choropleth').hidden = false;
}

$('choropleth-indicator').addEventListener('change', (e) => { chosen = e.target.value; renderChoropleth(); });

// --- loading --------------------------------------------------------------------

let lastText = '';

// Re-rendering replaces the cards and regions; keep the keyboard focus on
// the card or region it was on.
function keepFocus(render) {
  const a = document.activeElement;
  const id = a && a.dataset ? a.dataset.id : undefined;
  const inMap = a && a.closest ? !!a.closest('#choropleth-map') : false;
  render();
  if (id === undefined) return;
  const sel = inMap ? `#choropleth-map path[data-id="${CSS.escape(id)}"]` : `article[data-id="${CSS.escape(id)}"]`;
  const again = document.querySelector(sel);
  if (again) again.focus({ preventScroll: true });
}

async function loadIndicators() {
  const r = await fetch(`${API}/indicators`);
  if (!r.ok) throw new Error(`the indicators service answered ${r.status} ${r.statusText}`);
  const text = await r.text();
  if (text === lastText) return;
  lastText = text;
  indicators = JSON.parse(text);
  keepFocus(() => { renderCards(); renderChoropleth(); });
  $('status').textContent = `${areasShown().length} areas.`;
  document.body.dataset.ready = 'true';
}

async function loadShapes() {
  try {
    const r = await fetch(`${API}/areas.geojson`);
    if (!r.ok) return; // no public shapes: cards only
    shapes = await r.json();
    keepFocus(renderChoropleth);
  } catch { /* cards only */ }
}

async function refresh() {
  try { await loadIndicators(); } catch (err) {
    $('status').textContent = `Could not load the indicators: ${err.message}. Retrying in a minute.`;
  }
}

loadShapes();
refresh();
setInterval(refresh, REFRESH_MS);
