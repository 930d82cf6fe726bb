// Ponte public indicators page: the computed time at the top, a card per
// area with sensors (with a day / week trend where the API keeps history),
// the areas without sensors folded into one line, a choropleth when the
// API serves the areas' shapes, and the definitions once, in a glossary.
// Italian or English (?lang=, else the language the API negotiated from
// Accept-Language, else Italian), numbers and times in the city's locale
// and time zone (GET /api/v1/config). Vanilla JS, no framework.
//
// URL parameters: lang=it|en; embed=1 drops the header, downloads and
// glossary but keeps the timestamp, licence and attribution, and reports
// the frame's height to its parent (embed.js); area=ID or areas=ID,ID
// shows only those areas; indicator=NAME or indicators=NAME,NAME only
// those indicators; level=city|municipality|district the area level
// (a picker offers the levels the API has, unless an embed fixes one).

import { NO_DATA, RAMP, classes, rampColor } from '../shared/ramp.js';
import { DEFAULT_TIME_ZONE, makeI18n, pickLanguage } from '../shared/i18n.js';
import { reportHeight } from './embed.js';
import { trend } from './trend.js';
import { chooseLevel, levelInURL, levelLabel, setupLevelPicker } from '../shared/levels.js';

/** A tenant's page (/t/{tenant}/indicators/) reads its tenant's API. */
const TENANT = (location.pathname.match(/^\/t\/([a-z0-9-]+)\//) || [])[1] || '';
const API = (TENANT ? `/t/${TENANT}` : '') + '/api/v1';
const REFRESH_MS = 60000;
/** Indicators the API can rebuild a history of (twin/api indhistory.go). */
const WITH_HISTORY = ['noise_laeq_mean', 'parking_occupancy', 'lighting_power'];

const params = new URLSearchParams(location.search);
const embed = params.get('embed') === '1';
if (embed) document.documentElement.classList.add('embed');
const list = (...names) => names.flatMap((n) => (params.get(n) || '').split(',')).map((s) => s.trim()).filter(Boolean);
const onlyAreas = list('area', 'areas');
const onlyIndicators = list('indicator', 'indicators');

const $ = (id) => document.getElementById(id);
let i18n = makeI18n(pickLanguage(params.get('lang')), DEFAULT_TIME_ZONE);
let indicators = null;
let shapes = null;
let chosen = '';
let defs = new Map();
let tenantName = ''; // the tenant whose page this is (GET /config), if any
let levels = []; // the area levels the API has (GET /config), coarsest first
let level = ''; // the one shown ('' with an API before levels)

function el(tag, text, attrs) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = text;
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  return e;
}

/** The page's language and zone: ?lang= first, else the API's choice. */
async function loadConfig() {
  let cfg = {};
  try {
    const r = await fetch(`${API}/config`);
    if (r.ok) cfg = await r.json();
  } catch { /* defaults */ }
  const lang = pickLanguage(params.get('lang') || cfg.language || cfg.default_language);
  i18n = makeI18n(lang, cfg.time_zone || DEFAULT_TIME_ZONE);
  document.documentElement.lang = lang;
  for (const e of document.querySelectorAll('[data-i18n]')) e.textContent = i18n.t(e.dataset.i18n);
  tenantName = cfg.tenant && typeof cfg.tenant.name === 'string' ? cfg.tenant.name : '';
  document.title = `${i18n.t('title')} — ${tenantName || 'Ponte'}`;
  $('tenant').textContent = tenantName;
  $('tenant').hidden = !tenantName;
  const other = lang === 'it' ? 'en' : 'it';
  const link = $('other-language');
  const q = new URLSearchParams(location.search);
  q.set('lang', other);
  link.href = `?${q}`;
  link.hreflang = other;
  link.lang = other;
  link.textContent = i18n.t('otherLanguage');
  levels = Array.isArray(cfg.levels) ? cfg.levels : [];
  if (levels.length) {
    level = chooseLevel(levels, levelInURL());
    setupLevelPicker($('level'), embed && levelInURL() ? [level] : levels, level, lang, (l) => {
      level = l;
      lastText = '';
      refresh();
    });
    $('level-label').textContent = levelLabel('picker', lang);
  }
  setDownloads();
}

/** The query of the indicators of the page's language and level. */
function indicatorsQuery() {
  return `lang=${i18n.lang}` + (level ? `&level=${encodeURIComponent(level)}` : '');
}

function setDownloads() {
  $('json-link').href = `${API}/indicators?${indicatorsQuery()}`;
  $('csv-link').href = `${API}/indicators.csv` + (level ? `?level=${encodeURIComponent(level)}` : '');
}

const label = (name) => (defs.get(name) || {}).label || name;
const pick = (inds) => (onlyIndicators.length ? inds.filter((i) => onlyIndicators.includes(i.name)) : inds);
const hasSensors = (a) => (a.indicators || []).some((i) => i.sensors > 0);

/** One card: a heading, a table of indicators and, if any, a trend. */
function card(area, inds, cls) {
  const headingId = `h-${cls}-${area.id}`.replace(/[^A-Za-z0-9_-]/g, '_');
  // The card's accessible name reads the values (aria-label, not
  // aria-labelledby, which would win and read only the heading).
  const art = el('article', null, { class: `card ${cls}`, tabindex: '0', 'data-id': area.id });
  art.setAttribute('aria-label', `${area.name}: ` + inds.map((i) => `${label(i.name)} ${i18n.value(i)}`).join('; '));
  art.appendChild(el('h3', area.name, { id: headingId }));
  const t = el('table');
  t.appendChild(el('caption', i18n.t('caption', { name: area.name }), { class: 'visually-hidden' }));
  // Rows rest on sensors: an indicator without any in the area is told in
  // one line, not as a row of "no data" (unless asked for by name).
  const rows = onlyIndicators.length ? inds : inds.filter((i) => i.sensors > 0);
  for (const i of rows) {
    const tr = el('tr');
    const th = el('th', label(i.name), { scope: 'row' });
    const td = el('td', i18n.value(i), { 'data-indicator': i.name });
    td.appendChild(el('span', i18n.basis(i), { class: 'sub' }));
    tr.append(th, td);
    t.appendChild(tr);
  }
  art.appendChild(t);
  const missing = inds.length - rows.length;
  if (missing > 0) art.appendChild(el('p', missing === 1 ? i18n.t('withoutOne') : i18n.t('without', { n: missing }), { class: 'sub without' }));
  if (cls === 'area-card') {
    const h = inds.find((i) => WITH_HISTORY.includes(i.name) && i.sensors > 0);
    if (h) art.appendChild(trend(API, area, { name: h.name, label: label(h.name), unit: h.unit }, i18n));
  }
  return art;
}

function areasAll() {
  const all = (indicators && indicators.areas) || [];
  return onlyAreas.length ? all.filter((a) => onlyAreas.includes(a.id)) : all;
}

/** Areas with cards: those asked for by name, else those with sensors. */
function areasShown() {
  return onlyAreas.length ? areasAll() : areasAll().filter(hasSensors);
}

/**
 * The whole block's name: the tenant's (a tenant's API gives its one
 * municipality's indicators as the whole: "Comune di Bari", not "the whole
 * city"), else the whole city's.
 */
const wholeName = () => tenantName || i18n.t('city');

/** Whether the whole's indicators are the only area's (one card says it). */
function repeatsOnlyArea(city, shown) {
  const all = areasAll();
  return all.length === 1 && shown.length === 1 && JSON.stringify(pick(shown[0].indicators || [])) === JSON.stringify(city);
}

function renderCards() {
  const city = pick(indicators.city || []);
  const shown = areasShown();
  $('city').hidden = city.length === 0 || onlyAreas.length > 0 || repeatsOnlyArea(city, shown);
  $('city-title').textContent = wholeName();
  $('city-cards').replaceChildren(card({ id: 'city', name: wholeName() }, city, 'city-card'));
  $('areas').hidden = false;
  $('areas-title').hidden = embed && shown.length === 1;
  $('area-cards').replaceChildren(...shown.map((a) => card({ id: a.id, name: a.name || a.id }, pick(a.indicators || []), 'area-card')));
  const folded = onlyAreas.length ? [] : areasAll().filter((a) => !hasSensors(a));
  const box = $('no-sensors');
  box.hidden = folded.length === 0;
  const word = level && level !== 'municipality' ? 'noSensorsAreas' : 'noSensors';
  box.querySelector('summary').textContent = folded.length === 1 ? i18n.t(word + 'One') : i18n.t(word, { n: folded.length });
  $('no-sensors-list').textContent = folded.map((a) => a.name || a.id).sort((x, y) => x.localeCompare(y, i18n.locale)).join(', ');
  const when = indicators.generated ? i18n.t('updated', { t: i18n.dateTime(indicators.generated) }) : i18n.t('notYet');
  $('generated').textContent = when;
  $('footer-time').textContent = when;
  const lic = indicators.licence || {};
  const parts = [];
  if (lic.attribution) parts.push(i18n.t('source', { attribution: lic.attribution }) + ' ');
  if (lic.name) {
    parts.push(i18n.t('licenceWord') + ' ');
    parts.push(lic.url ? el('a', lic.name, { href: lic.url, rel: 'license' }) : lic.name);
    parts.push('.');
  }
  $('licence').replaceChildren(...parts);
  renderGlossary();
}

function renderGlossary() {
  const items = [];
  for (const d of defs.values()) {
    if (onlyIndicators.length && !onlyIndicators.includes(d.name)) continue;
    const dd = el('dd', d.definition || '');
    const u = i18n.unit(d.unit).trim();
    if (u) dd.append(' ', el('span', `(${i18n.t('unit')}: ${u})`, { class: 'unit' }));
    items.push(el('dt', d.label || d.name, { 'data-indicator': d.name }), dd);
  }
  $('glossary-list').replaceChildren(...items);
  $('glossary').hidden = items.length === 0;
}

/** The definitions of the answer: once per answer, or (older APIs) per value. */
function readDefinitions(ind) {
  defs = new Map();
  for (const d of ind.definitions || []) defs.set(d.name, d);
  const all = (ind.city || []).concat(...(ind.areas || []).map((a) => a.indicators || []));
  for (const i of all) if (!defs.has(i.name)) defs.set(i.name, { name: i.name, label: i.name, unit: i.unit, definition: i.definition || '' });
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
  if (!shapes || !indicators || (embed && onlyAreas.length > 0)) { $('choropleth').hidden = true; return; }
  const names = [...defs.keys()].filter((n) => !onlyIndicators.length || onlyIndicators.includes(n));
  if (!names.includes(chosen)) {
    // The first indicator some area has a value of, so the map says something.
    const withData = names.find((n) => areasAll().some((a) => (a.indicators || []).some((i) => i.name === n && i.sensors > 0)));
    chosen = withData || names[0] || '';
  }
  const sel = $('choropleth-indicator');
  sel.replaceChildren(...names.map((n) => new Option(label(n), n)));
  sel.value = chosen;
  const byId = new Map(areasAll().map((a) => [a.id, a]));
  const feats = shapes.features.filter((f) => byId.has(String(f.id)));
  if (feats.length === 0) { $('choropleth').hidden = true; return; }
  const value = (a) => (a.indicators || []).find((x) => x.name === chosen) || null;
  const c = classes(feats.map((f) => { const i = value(byId.get(String(f.id))); return i ? i.value : null; }));
  const NS = 'http://www.w3.org/2000/svg';
  const p = projection(feats, 800);
  const svg = document.createElementNS(NS, 'svg');
  svg.setAttribute('viewBox', `-4 -4 ${p.width + 8} ${p.height + 8}`);
  svg.setAttribute('role', 'group');
  svg.setAttribute('aria-label', i18n.t('mapAria', { ind: label(chosen) }));
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
    const text = `${a.name || a.id}: ${label(chosen)} ${i18n.value(i)}`;
    path.setAttribute('aria-label', text);
    const title = document.createElementNS(NS, 'title');
    title.textContent = text;
    path.appendChild(title);
    const go = () => { const cardEl = document.querySelector(`.area-card[data-id="${CSS.escape(a.id)}"]`); if (cardEl) { cardEl.scrollIntoView({ block: 'nearest' }); cardEl.focus(); } };
    path.addEventListener('click', go);
    path.addEventListener('keydown', (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); go(); } });
    svg.appendChild(path);
  }
  $('choropleth-map').replaceChildren(svg);
  const unit = (defs.get(chosen) || {}).unit || '';
  const items = [];
  if (c) {
    const edges = [c.min, ...c.breaks, c.max];
    const n = c.max === c.min ? 1 : RAMP.length;
    for (let k = 0; k < n; k++) {
      const li = el('li');
      const sw = el('span', null, { class: 'swatch', 'aria-hidden': 'true' });
      sw.style.background = n === 1 ? RAMP[Math.floor(RAMP.length / 2)] : RAMP[k];
      const txt = n === 1 ? i18n.plain(chosen, unit, c.min) : `${i18n.plain(chosen, '', edges[k])} – ${i18n.plain(chosen, unit, edges[k + 1])}`;
      li.append(sw, document.createTextNode(txt));
      items.push(li);
    }
  }
  const li = el('li');
  const sw = el('span', null, { class: 'swatch', 'aria-hidden': 'true' });
  sw.style.background = NO_DATA;
  li.append(sw, document.createTextNode(i18n.t('noData')));
  items.push(li);
  const legend = $('choropleth-legend');
  legend.setAttribute('aria-label', i18n.t('legend'));
  legend.replaceChildren(...items);
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
  setDownloads();
  const r = await fetch(`${API}/indicators?${indicatorsQuery()}`);
  if (!r.ok) throw new Error(`${r.status} ${r.statusText}`);
  const text = await r.text();
  if (text === lastText) return;
  lastText = text;
  indicators = JSON.parse(text);
  readDefinitions(indicators);
  keepFocus(() => { renderCards(); renderChoropleth(); });
  const shown = areasShown().length;
  $('status').textContent = i18n.t('status', { n: shown, m: areasAll().length - shown });
  $('status').classList.add('visually-hidden'); // the cards and the folded line say it
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
    $('status').textContent = i18n.t('error', { e: err.message });
    $('status').classList.remove('visually-hidden');
  }
}

if (embed) reportHeight();
loadConfig().then(() => {
  loadShapes();
  refresh();
  setInterval(refresh, REFRESH_MS);
});
