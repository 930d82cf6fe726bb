// Ponte operators' map: areas coloured by an indicator, roads by
// congestion, sensor sites by freshness, live through the SSE stream.
// See ../../README.md for the URL parameters and window.ponteMap.

import * as maplibregl from 'maplibre-gl';
import { CONGESTION, FLEET, FRESHNESS, NO_DATA, RAMP, indicatorLabel } from '../shared/ramp.js';
import { escapeHTML, readConfig, saveToken } from './config.js';
import { Store, drawn, freshnessColor, sourceOf } from './store.js';
import { details } from './popup.js';
import { T, lang, clock, num, setTimeZone } from './i18n.js';
import { symbol } from './units.js';
import { Attention } from './attention.js';
import { setupFilters, setupSearch } from './search.js';
import { CLUSTER_MAX_ZOOM, Labels } from './labels.js';
import { TimeTravel } from './timetravel.js';
import { Alarms, addAlarmLayers, alarmLegend, alarmSection } from './alarms.js';
import { areasAt } from './pastareas.js';
import { chooseLevel, levelInURL, levelLabel, levelsPresent, setupLevelPicker } from '../shared/levels.js';
import { Keyboard } from './keyboard.js';
import { Commands } from './commands.js';

const ISTAT = 'Confini amministrativi © ISTAT, CC BY 4.0 (via openpolis/geojson-italy)';
const SOURCES = ['areas', 'roads', 'sites'];
// The sites and gateways come as vector tiles cut by the server from the
// twin (twin/sitetiles: clustered below CLUSTER_MAX_ZOOM), their one
// layer SITES_LAYER; live changes are painted over them through feature
// state. The page no longer hands the map every site: at 100,000 sites
// the GeoJSON (55 MB), its parsing and the worker's tiling and clustering
// took half a minute (BenchmarkMapChange).
const SITES_LAYER = 'sites';
const SITES_MINZOOM = 4;
const SITES_MAXZOOM = 18;
// A change to a feature the map already draws is painted at once through
// feature state (no re-tiling); the source data follows every DATA_MS, and
// new features, area recolouring and the like within FLUSH_MS.
const FLUSH_MS = 100;
const DATA_MS = 1000;
// Paint colour of roads: the live feature state, else the data.
const LIVE_COLOR = ['coalesce', ['feature-state', 'color'], ['get', '_color']];
// Paint colour of sites and gateways: the live feature state, else the
// tile's freshness.
const match = (prop, table, fallback) => ['match', ['get', prop], ...Object.entries(table).flat(), fallback];
const SITE_COLOR = ['coalesce', ['feature-state', 'color'], match('freshness', FRESHNESS, FRESHNESS.unknown)];
// Ring of gateways: their fleet state (revoked, offline, devices failing, ok).
const LIVE_RING = ['coalesce', ['feature-state', 'ring'], match('fleet', FLEET, FLEET.ok)];
// A site removed from the twin is hidden until the tiles are asked again.
const SHOWN = ['case', ['boolean', ['feature-state', 'removed'], false], 0, 1];
// From CLUSTER_MAX_ZOOM, more sites than this in one 64-px cell of a
// tile are drawn as one cluster (twin/sitetiles.Crowded).
const CROWDED = 32;
const CELL_PIXELS = 64;
const IS_GATEWAY = ['==', ['get', 'kind'], 'gateway'];
// Layers a click or a hover looks at, topmost first.
const CLICKABLE = ['alarm-rings', 'gateways', 'sites', 'clusters', 'roads', 'areas-fill'];
const SITES_ONLY = ['!', IS_GATEWAY];
const ROOMY_SITES = ['all', SITES_ONLY, ['!', ['has', 'point_count']]];
// A cluster's colour is its worst state present (live: the page's
// feature state, from its copy of the sites; else the tile's counts).
const CLUSTER_COLOR = ['coalesce', ['feature-state', 'color'],
  ['case', ['>', ['get', 'offline'], 0], FRESHNESS.offline, ['>', ['get', 'stale'], 0], FRESHNESS.stale, ['>', ['get', 'fresh'], 0], FRESHNESS.fresh, FRESHNESS.unknown]];
// The layers drawn from the sites' tiles.
const SITE_LAYERS = ['clusters', 'unclustered', 'sites', 'gateways'];

const cfg = readConfig();
const store = new Store();
const $ = (id) => document.getElementById(id);

document.documentElement.lang = lang;
document.title = T.title;
for (const e of document.querySelectorAll('[data-t]')) e.textContent = T[e.dataset.t];
for (const e of document.querySelectorAll('[data-t-placeholder]')) e.placeholder = T[e.dataset.tPlaceholder];

let attention = null;
function setStatus(text, state) {
  if (attention) { attention.setStream(state, text); return; }
  const s = $('status');
  s.textContent = text;
  s.dataset.state = state;
}

class HTTPError extends Error {
  // serverError is the answer's "error" as the server wrote it, retryAfter its Retry-After.
  constructor(status, msg, serverError = '', retryAfter = '') { super(msg); this.status = status; this.serverError = serverError; this.retryAfter = retryAfter; }
}

async function api(path, onResponse, method = 'GET', body = undefined) {
  const headers = cfg.token ? { Authorization: 'Bearer ' + cfg.token } : {};
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const r = await fetch(cfg.api + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  if (r.ok && onResponse) onResponse(r);
  if (!r.ok) {
    let msg = `${r.status} ${r.statusText}`;
    try { const j = await r.json(); if (j.error) msg = j.error; } catch { /* not JSON */ }
    throw new HTTPError(r.status, `${method} ${path}: ${msg}`, msg, r.headers.get('Retry-After') || '');
  }
  return r.json();
}

function showTokenForm(message) {
  const f = $('token-form');
  f.hidden = false;
  $('token-message').textContent = message;
  $('token-input').focus();
  f.addEventListener('submit', (e) => {
    e.preventDefault();
    saveToken($('token-input').value.trim());
    location.reload();
  }, { once: true });
}

// --- the map ---------------------------------------------------------------

const style = {
  version: 8,
  sources: {},
  layers: [{ id: 'background', type: 'background', paint: { 'background-color': '#eef1ec' } }],
};
if (cfg.tiles) {
  style.sources.base = {
    type: 'raster', tiles: [cfg.tiles], tileSize: 256,
    // MapLibre puts attributions into the page as HTML: one that comes
    // from the URL is escaped, so a crafted link cannot put a phishing
    // anchor or markup into this trusted page; it shows as plain text.
    attribution: escapeHTML(cfg.tilesAttribution || 'Base map: ' + new URL(cfg.tiles, location.href).host),
  };
  style.layers.push({ id: 'base', type: 'raster', source: 'base' });
}

// The API's base as an absolute URL: the map's worker fetches the tiles.
const apiBase = new URL(cfg.api, location.href).href.replace(/\/$/, '');
// tileVersion changes to ask for newer tiles past the browser's cache.
let tileVersion = Date.now().toString(36);
function tileURL() {
  const q = new URLSearchParams({ v: tileVersion });
  if (filterChoice.type) q.set('type', filterChoice.type);
  if (filterChoice.freshness) q.set('freshness', filterChoice.freshness);
  return `${apiBase}/tiles/sites/{z}/{x}/{y}?${q}`;
}

// Two workers cut the sites' tiles into what the map draws (MapLibre's
// default is half the cores, one on a control room's two-core box).
maplibregl.setWorkerCount(Math.max(2, maplibregl.getWorkerCount()));

const map = new maplibregl.Map({
  container: 'map',
  style,
  // The tiles are the operator's: the token goes in their header.
  transformRequest: (url) => (url.startsWith(apiBase + '/') && cfg.token ? { url, headers: { Authorization: 'Bearer ' + cfg.token } } : { url }),
  center: [11.25, 43.77],
  zoom: 9,
  attributionControl: { compact: false, customAttribution: ISTAT },
  canvasContextAttributes: { preserveDrawingBuffer: true },
});
map.addControl(new maplibregl.NavigationControl({ showCompass: false }), 'top-right');
map.addControl(new maplibregl.ScaleControl({ unit: 'metric' }), 'bottom-left');

function addLayers() {
  const empty = { type: 'FeatureCollection', features: [] };
  for (const s of ['areas', 'roads']) {
    map.addSource(s, { type: 'geojson', data: empty, promoteId: '_id', attribution: s === 'areas' ? ISTAT : undefined });
  }
  // Zoomed out, and from CLUSTER_MAX_ZOOM where more than CROWDED share
  // a 64-px cell, the tiles' sites are gathered into clusters that count
  // them by state (twin/sitetiles).
  map.addSource('sites', { type: 'vector', tiles: [tileURL()], minzoom: SITES_MINZOOM, maxzoom: SITES_MAXZOOM, promoteId: '_id' });
  // Hidden (so no tile is asked) until the first load frames the map.
  const tiles = { source: 'sites', 'source-layer': SITES_LAYER, layout: { visibility: 'none' } };
  // The areas are the base map when there are no tiles (or the tile
  // server cannot be reached): strong enough to read the choropleth when
  // zoomed out, quiet at street zoom where roads and sites matter.
  const fillOpacity = cfg.tiles ? 0.45 : 0.55;
  const fading = ['interpolate', ['linear'], ['zoom'], 11, fillOpacity, 15, fillOpacity * 0.45];
  const shownLevel = ['==', ['get', '_level'], store.level];
  map.addLayer({ id: 'areas-fill', type: 'fill', source: 'areas', filter: shownLevel, paint: { 'fill-color': ['get', '_color'], 'fill-opacity': fading } });
  map.addLayer({ id: 'areas-line', type: 'line', source: 'areas', filter: shownLevel, paint: { 'line-color': '#ffffff', 'line-width': ['interpolate', ['linear'], ['zoom'], 10, 1, 15, 2.5] } });
  map.addLayer({ id: 'roads-casing', type: 'line', source: 'roads', layout: { 'line-cap': 'round', 'line-join': 'round' }, paint: { 'line-color': '#ffffff', 'line-width': 7 } });
  map.addLayer({ id: 'roads', type: 'line', source: 'roads', layout: { 'line-cap': 'round', 'line-join': 'round' }, paint: { 'line-color': LIVE_COLOR, 'line-width': 4 } });
  map.addLayer({
    id: 'clusters', type: 'circle', ...tiles, filter: ['has', 'point_count'],
    paint: {
      'circle-color': CLUSTER_COLOR,
      'circle-radius': ['interpolate', ['linear'], ['get', 'point_count'], 2, 12, 100, 22, 1000, 30],
      'circle-opacity': 0.85, 'circle-stroke-color': '#ffffff', 'circle-stroke-width': 2,
    },
  });
  map.addLayer({
    id: 'unclustered', type: 'circle', ...tiles, maxzoom: CLUSTER_MAX_ZOOM, filter: ['all', ['!', ['has', 'point_count']], SITES_ONLY],
    paint: { 'circle-color': SITE_COLOR, 'circle-radius': 4, 'circle-stroke-color': '#1a1a1a', 'circle-stroke-width': 0.75, 'circle-opacity': SHOWN, 'circle-stroke-opacity': SHOWN },
  });
  map.addLayer({
    id: 'sites', type: 'circle', ...tiles, filter: ROOMY_SITES, minzoom: CLUSTER_MAX_ZOOM,
    paint: {
      'circle-color': SITE_COLOR,
      'circle-stroke-opacity': SHOWN,
      // Thin and unstroked when zoomed out, so thousands of sites stay readable.
      'circle-radius': ['interpolate', ['linear'], ['zoom'], 8, 1.5, 12, 4, 16, 9],
      'circle-stroke-color': '#1a1a1a',
      'circle-stroke-width': ['interpolate', ['linear'], ['zoom'], 10, 0, 13, 0.75],
    },
  });
  // Gateways: larger, filled by freshness, ringed by their fleet state (a
  // thick ring when something is wrong), above the sites at every zoom.
  map.addLayer({
    id: 'gateways', type: 'circle', ...tiles, filter: IS_GATEWAY,
    paint: {
      'circle-color': SITE_COLOR,
      'circle-opacity': SHOWN,
      'circle-stroke-opacity': SHOWN,
      'circle-radius': ['interpolate', ['linear'], ['zoom'], 8, 5, 12, 8, 16, 12],
      'circle-stroke-color': LIVE_RING,
      'circle-stroke-width': ['case', ['==', LIVE_RING, FLEET.ok], 2, 4],
    },
  });
  addAlarmLayers(map);
}

// --- data ------------------------------------------------------------------

const pending = new Map(); // source -> Map(id -> feature)
// Timings (performance.now()) of the latest entity event, flush and
// applied update, for tests and for looking at a slow map.
const stats = { eventAt: 0, flushAt: 0, appliedAt: 0, renderAt: 0 };
let flushTimer = 0;
let areasDirty = false;
let changed = false; // an entity changed since the last flush

let flushDue = Infinity;
function scheduleFlush(delay = FLUSH_MS) {
  const due = performance.now() + delay;
  if (flushTimer && due >= flushDue) return;
  clearTimeout(flushTimer);
  flushDue = due;
  flushTimer = setTimeout(flush, delay);
}

function flush() {
  flushTimer = 0;
  flushDue = Infinity;
  if (changed) {
    changed = false;
    $('updated').textContent = `${T.lastChange} ${clock(Date.now(), true)}`;
    if (attention) attention.changed();
  }
  if (past) { pending.clear(); return; }
  stats.flushAt = performance.now();
  for (const [source, feats] of pending) {
    if (source === 'areas' || source === 'sites') continue;
    map.getSource(source).updateData({ add: [...feats.values()].map(drawn) }).then(() => { stats.appliedAt = performance.now(); });
    hand(source, feats.values(), false);
  }
  pending.clear();
  if (areasDirty) {
    areasDirty = false;
    const fc = store.collection('areas');
    map.getSource('areas').setData(fc);
    hand('areas', fc.features, true);
    renderLegend();
  }
}

// handed is, per source, the IDs of the features given to the map's
// source (setData, updateData), in view or not: what featureCount counts.
const handed = new Map();

function hand(source, features, replace) {
  if (replace || !handed.has(source)) handed.set(source, new Set());
  const ids = handed.get(source);
  for (const f of features) ids.add(String(f.properties._id));
}

function setAll() {
  // The reloaded data is the truth: drop the live colours set on top.
  map.removeFeatureState({ source: 'roads' });
  map.removeFeatureState({ source: 'sites', sourceLayer: SITES_LAYER });
  for (const s of ['areas', 'roads']) {
    const fc = store.collection(s);
    map.getSource(s).setData({ type: 'FeatureCollection', features: fc.features.map(drawn) });
    hand(s, fc.features, true);
  }
  refreshTiles();
  if (attention) attention.refresh();
  if (filters) filters.fill();
}

// The sites' tiles are asked again (a new tileVersion) only for what
// feature state cannot paint: new and removed sites at once (FLUSH_MS),
// and, while they are drawn (zoomed out) or a filter is on, the clusters'
// counts and the filtered sites at most every TILES_MS. Zoomed in without
// a filter a change costs no tile: 100,000 sites in view are a few
// megabytes of tiles to cut, send and parse again.
const TILES_MS = 2000;
let tilesTimer = 0;
let tilesDue = Infinity;
let tilesStale = false;
function refreshTiles() {
  cellsChanged.clear();
  clearTimeout(tilesTimer);
  tilesTimer = 0;
  tilesDue = Infinity;
  tilesStale = false;
  tileVersion = (Date.now() + performance.now()).toString(36);
  const src = map.getSource('sites');
  if (src) src.setTiles([tileURL()]);
}
function scheduleTiles(delay) {
  const due = performance.now() + delay;
  if (tilesTimer && due >= tilesDue) return;
  clearTimeout(tilesTimer);
  tilesDue = due;
  tilesTimer = setTimeout(refreshTiles, delay);
}
// A site changed: new tiles when what they say matters (see above). A
// cluster's colour is painted by paintCell once the page holds every
// site, and its label's counts from it too (clusterCounts); until then
// the tiles are asked again for them.
function sitesChanged(structural) {
  if (structural) { scheduleTiles(FLUSH_MS); return; }
  tilesStale = true;
  if (map.getZoom() < CLUSTER_MAX_ZOOM || filterChoice.type || filterChoice.freshness || !sitesLoaded) scheduleTiles(TILES_MS);
}

// Live changes of sites drawn in a cluster: the page knows which cell
// of the tiles' zoom a site falls in (twin/sitetiles.Cell, the same
// Web Mercator cells of CELL_PIXELS) and paints the cluster (its _id,
// sitetiles.CellID) in its sites' worst state through feature state, as
// it paints a site drawn on its own. cells indexes the page's sites by
// cell at one zoom (built on first need: a few tens of ms at 100,000
// sites), cellsPainted are the clusters so painted, cellsChanged the
// sites changed since the tiles were last asked (their clusters are
// painted again at a new zoom).
let cells = null; // { z, byCell: Map("x/y" -> [site ID]), counts: Map("x/y" -> counts) }
const cellsPainted = new Set();
const cellsChanged = new Map(); // id -> feature
/** The zoom of the sites' tiles MapLibre draws (vector sources round). */
function tileZoom() {
  return Math.min(SITES_MAXZOOM, Math.max(SITES_MINZOOM, Math.round(map.getZoom())));
}
/** The cell of a point [lon, lat] at zoom z, as twin/sitetiles.Cell. */
function cellOf(c, z) {
  const lat = Math.max(-85.0511, Math.min(85.0511, c[1]));
  const s = Math.sin(lat * Math.PI / 180);
  const scale = 512 * 2 ** z / CELL_PIXELS;
  return `${Math.trunc((c[0] + 180) / 360 * scale)}/${Math.trunc((0.5 - Math.log((1 + s) / (1 - s)) / (4 * Math.PI)) * scale)}`;
}
function cellIndex(z) {
  if (cells && cells.z === z) return cells.byCell;
  const byCell = new Map();
  for (const f of store.features.values()) {
    if (f.properties.kind !== 'site' || !f.geometry || f.geometry.type !== 'Point') continue;
    const k = cellOf(f.geometry.coordinates, z);
    const list = byCell.get(k);
    const id = f.properties._id; // the store replaces a feature on each change
    if (list) list.push(id); else byCell.set(k, [id]);
  }
  cells = { z, byCell, counts: new Map() };
  return byCell;
}
/**
 * The sites the filters show in cell k ("x/y") of zoom z by freshness
 * (and point_count, all of them), as the tiles count a cluster's; kept
 * until one of them changes (fresh when fresh is true).
 */
function cellCounts(z, k, fresh = false) {
  const byCell = cellIndex(z);
  if (!fresh && cells.counts.has(k)) return cells.counts.get(k);
  const n = { point_count: 0, fresh: 0, stale: 0, offline: 0, unknown: 0 };
  for (const id of byCell.get(k) || []) {
    const f = store.features.get(id);
    if (!f || !siteShown(f.properties)) continue;
    n.point_count++;
    n[f.properties.freshness in n ? f.properties.freshness : 'unknown']++;
  }
  cells.counts.set(k, n);
  return n;
}
/**
 * The cluster a site is drawn in at the tiles' zoom: its _id and the
 * colour of its worst state, or null if the site is drawn on its own.
 */
function cellOfSite(g, changed = false) {
  if (!sitesLoaded || !g.geometry || g.geometry.type !== 'Point') return null;
  const z = tileZoom();
  const k = cellOf(g.geometry.coordinates, z);
  const n = cellCounts(z, k, changed);
  if (n.point_count <= (z < CLUSTER_MAX_ZOOM ? 1 : CROWDED)) return null;
  const color = n.offline ? FRESHNESS.offline : n.stale ? FRESHNESS.stale : n.fresh ? FRESHNESS.fresh : FRESHNESS.unknown;
  return { id: `c${z}/${k}`, color };
}
/**
 * The live counts of a cluster of the tiles (its properties) from the
 * page's copy of the sites, for its label; null when the page cannot say
 * (its sites not loaded yet, the past shown, another zoom's cluster).
 */
function clusterCounts(q) {
  const m = /^c(\d+)\/(\d+\/\d+)$/.exec(q._id || '');
  if (!m || !sitesLoaded || past || Number(m[1]) !== tileZoom()) return null;
  return cellCounts(Number(m[1]), m[2]);
}
/** Paints the cluster g is drawn in, if any; says whether there is one. */
function paintCell(g) {
  cellsChanged.set(g.properties._id, g);
  const c = cellOfSite(g, true);
  if (!c) return false;
  map.setFeatureState({ source: 'sites', sourceLayer: SITES_LAYER, id: c.id }, { color: c.color });
  cellsPainted.add(c.id);
  return true;
}
let cellsZoom = 0;
map.on('zoomend', () => {
  if (tilesStale && !past && map.getZoom() < CLUSTER_MAX_ZOOM) scheduleTiles(FLUSH_MS);
  // The clusters painted at another zoom's cells: those of this zoom
  // are painted from the sites changed since the tiles were cut.
  const z = tileZoom();
  if (z === cellsZoom || past) return;
  cellsZoom = z;
  for (const id of cellsPainted) map.removeFeatureState({ source: 'sites', sourceLayer: SITES_LAYER, id });
  cellsPainted.clear();
  for (const g of [...cellsChanged.values()]) paintCell(g);
});

// The filters' choice, and whether a site passes it.
let filterChoice = { type: '', freshness: '' };
function siteShown(p) {
  return (!filterChoice.type || p.type === filterChoice.type) && (!filterChoice.freshness || p.freshness === filterChoice.freshness);
}

// fitToData frames the devices: the sites and gateways when there are any,
// so that an operator opens on the installations and not on every
// metropolitan area the twin knows; otherwise everything it holds (areas
// and roads, e.g. before the first site config is enrolled). A twin that
// serves several cities (Firenze and Bari are 400 km apart) opens on the
// one with the most devices rather than on the country between them:
// devices are counted per cell of FRAME_CELL degrees (about 25 km) and the
// busiest cell with its neighbours is framed. Panning to the others stays
// one gesture away.
const FRAME_CELL = 0.25;

function fitToData(frame) {
  if (frame && frame.length === 4) {
    map.fitBounds([[frame[0], frame[1]], [frame[2], frame[3]]], { padding: 30, animate: false, maxZoom: 17 });
    return;
  }
  const points = (f) => {
    const out = [];
    const walk = (c) => { if (typeof c[0] === 'number') out.push(c); else for (const x of c) walk(x); };
    if (f.geometry && f.geometry.coordinates) walk(f.geometry.coordinates);
    return out;
  };
  const devices = [];
  for (const f of store.features.values()) {
    if (f.properties.kind === 'site' || f.properties.kind === 'gateway') devices.push(...points(f));
  }
  const b = new maplibregl.LngLatBounds();
  if (devices.length) {
    const cell = (c) => [Math.floor(c[0] / FRAME_CELL), Math.floor(c[1] / FRAME_CELL)];
    const counts = new Map();
    for (const c of devices) {
      const k = cell(c).join(',');
      counts.set(k, (counts.get(k) || 0) + 1);
    }
    let best = '';
    for (const [k, n] of counts) if (!best || n > counts.get(best)) best = k;
    const [bx, by] = best.split(',').map(Number);
    for (const c of devices) {
      const [x, y] = cell(c);
      if (Math.abs(x - bx) <= 1 && Math.abs(y - by) <= 1) b.extend(c);
    }
  } else {
    for (const f of store.features.values()) for (const c of points(f)) b.extend(c);
  }
  if (!b.isEmpty()) map.fitBounds(b, { padding: 30, animate: false, maxZoom: 17 });
}

// The stream resumes from the last change before the entities snapshot, so
// that nothing that changed while it loaded is lost.
let snapshotSeq = '';

// loadEntities loads every entity; frame frames the devices first (the
// first load), so that the map hands its sources the data once, at the
// zoom it opens at.
// It leaves performance marks (ponte:entities-*) of each step, for the
// benchmark and for looking at a slow first load.
// The areas and roads come first with the sites' summary (how many, and
// where to frame them), so the map draws at once from the tiles; the
// sites and gateways themselves (for popups, labels, search, the
// attention panel and the keyboard) follow in loadSites.
const seqMin = (a, b) => (!a ? b : !b ? a : String(Math.min(Number(a), Number(b))));
let tilesInfo = null; // GET /tiles/sites.json
let sitesLoaded = false;
async function loadEntities(frame = false) {
  performance.mark('ponte:entities-asked');
  let seq = '';
  const seqOf = (r) => { seq = seqMin(seq, r.headers.get('X-Last-Event-ID') || ''); };
  const [fc, info] = await Promise.all([
    api('/entities?type=area,road', (r) => { seqOf(r); performance.mark('ponte:entities-answered'); }),
    api('/tiles/sites.json', seqOf),
  ]);
  snapshotSeq = seq;
  tilesInfo = info;
  performance.mark('ponte:entities-parsed');
  store.load(fc, ['area', 'road']);
  if (frame) fitToData(info.frame);
  for (const l of SITE_LAYERS) map.setLayoutProperty(l, 'visibility', 'visible');
  performance.mark('ponte:entities-stored');
  setAll();
  performance.mark('ponte:entities-handed');
  $('count').textContent = T.entities(store.features.size - storeCount('site') - storeCount('gateway') + info.sites + info.gateways);
}

/** How many features of a kind the page's copy holds. */
function storeCount(kind) {
  let n = 0;
  for (const f of store.features.values()) if (f.properties.kind === kind) n++;
  return n;
}

// loadSites loads the sites and gateways into the page's copy (not the
// map's: it draws them from the tiles).
async function loadSites() {
  const fc = await api('/entities?type=site,gateway', (r) => { snapshotSeq = seqMin(snapshotSeq, r.headers.get('X-Last-Event-ID') || ''); });
  performance.mark('ponte:sites-parsed');
  store.load(fc, ['site', 'gateway']);
  sitesLoaded = true;
  cells = null;
  // The cells of the zoom shown, before the first change needs them.
  setTimeout(() => { if (!cells) cellIndex(tileZoom()); }, 0);
  performance.mark('ponte:sites-stored');
  $('count').textContent = T.entities(store.features.size);
  if (attention) attention.refresh();
  if (filters) filters.fill();
  if (labels) labels.schedule();
}

// The area levels the twin has and the one shown (?level=, else the
// municipalities, else the finest), with the picker in the header.
function setupLevels() {
  const present = levelsPresent(store.collection('areas').features.map((f) => ({ level: f.properties._level })));
  showLevel(chooseLevel(present, levelInURL()), present);
}

function showLevel(level, present) {
  store.level = level;
  setupLevelPicker($('level'), present, level, lang, (l) => showLevel(l, present));
  $('level-label').textContent = levelLabel('picker', lang);
  if (map.getLayer('areas-fill')) {
    for (const l of ['areas-fill', 'areas-line']) map.setFilter(l, ['==', ['get', '_level'], level]);
  }
  store.recolorAreas();
  areasDirty = true;
  flush();
  if (past && pastIndicators) paintPastAreas(); // in the past, the level's areas as they were
  if (labels) labels.schedule();
}

async function loadIndicators() {
  // Every level's areas: the picker switches without asking again.
  store.indicators = await api('/indicators?level=all');
  fillIndicatorSelect();
  store.recolorAreas();
  areasDirty = true;
  scheduleFlush();
}

function fillIndicatorSelect() {
  const sel = $('indicator');
  const names = store.indicatorNames();
  if (!store.indicator || !names.includes(store.indicator)) {
    let saved = '';
    try { saved = localStorage.getItem('ponte.indicator') || ''; } catch { /* ignore */ }
    // Else the first indicator some area has a value of, so the map says something.
    const withData = names.find((n) => (store.indicators?.areas || []).some((a) => (a.indicators || []).some((i) => i.name === n && i.value !== null)));
    store.indicator = names.includes(saved) ? saved : withData || names[0] || '';
  }
  const have = [...sel.options].map((o) => o.value).join('\n');
  if (have !== names.join('\n')) {
    sel.replaceChildren(...names.map((n) => new Option(indicatorLabel(n, lang), n)));
  }
  sel.value = store.indicator;
}

// noteChange records an entity event of a feature of source. Areas are
// redrawn whole at the next flush, so nothing more is to be done for
// them: it returns true.
function noteChange(source) {
  stats.eventAt = performance.now();
  changed = true;
  if (source !== 'areas') return false;
  areasDirty = true;
  scheduleFlush();
  return true;
}

// removeEntity drops a feature the twin no longer has (its device left
// the inventory): from the page's copy, the pending updates and the map.
function removeEntity(f) {
  const g = store.remove(f.id);
  if (!g) return;
  const id = g.properties._id;
  const source = sourceOf(g.properties.kind);
  if (noteChange(source)) return;
  if (pending.has(source)) pending.get(source).delete(id);
  if (handed.has(source)) handed.get(source).delete(id);
  if (source === 'sites') {
    map.setFeatureState({ source, sourceLayer: SITES_LAYER, id }, { removed: true, color: 'rgba(0,0,0,0)' });
    cells = null;
    sitesChanged(true);
  } else {
    map.removeFeatureState({ source, id });
    map.getSource(source).updateData({ remove: [id] }).then(() => { stats.appliedAt = performance.now(); });
  }
  $('count').textContent = T.entities(store.features.size);
}

function applyEntity(f) {
  const old = store.features.get(String(f.id));
  const known = !!old;
  const was = old && old.geometry && old.geometry.type === 'Point' ? String(old.geometry.coordinates) : '';
  const g = store.put(f);
  const moved = known && was !== (g.geometry && g.geometry.type === 'Point' ? String(g.geometry.coordinates) : '');
  const source = sourceOf(g.properties.kind);
  if (noteChange(source)) return;
  if (past) return; // the map shows the past; the store stays current
  if (source === 'sites') {
    // Painted at once over the tiles; a new site needs new tiles.
    const state = { color: g.properties._color, removed: false };
    if (g.properties._ring) state.ring = g.properties._ring;
    map.setFeatureState({ source, sourceLayer: SITES_LAYER, id: g.properties._id }, state);
    if (!known || moved) cells = null;
    if (known && !moved && g.properties.kind === 'site' && paintCell(g) && labels) labels.schedule();
    stats.appliedAt = performance.now();
    sitesChanged(!known || moved);
    scheduleFlush(DATA_MS);
    return;
  }
  if (!pending.has(source)) pending.set(source, new Map());
  pending.get(source).set(g.properties._id, g);
  if (known) {
    const state = { color: g.properties._color };
    if (g.properties._ring) state.ring = g.properties._ring;
    map.setFeatureState({ source, id: g.properties._id }, state);
    scheduleFlush(DATA_MS);
  } else {
    scheduleFlush();
  }
}

// The stream opens with a single-use ticket (POST /stream/ticket, the
// token in the Authorization header), never with the token in its URL.
// EventSource reconnects on its own with the same URL, whose ticket is
// used up; so on any error the page closes it and opens a new one.
let es = null;
async function connectStream(lastEventId) {
  let last = lastEventId || '';
  let url;
  try {
    const { ticket } = await api('/stream/ticket', null, 'POST');
    url = `${cfg.api}/stream?ticket=${encodeURIComponent(ticket)}`;
  } catch (err) {
    setStatus(T.disconnected, 'error');
    if (err instanceof HTTPError && err.status === 401) { showTokenForm(T.tokenRefused); return; }
    setTimeout(() => connectStream(last), 5000);
    return;
  }
  if (last) url += `&lastEventId=${encodeURIComponent(last)}`;
  es = new EventSource(url);
  es.onopen = () => setStatus(T.live, 'live');
  es.addEventListener('entity', (e) => {
    last = e.lastEventId || last;
    try { applyEntity(JSON.parse(e.data)); } catch (err) { console.error('bad entity event', err); }
  });
  es.addEventListener('removed', (e) => {
    last = e.lastEventId || last;
    try { removeEntity(JSON.parse(e.data)); } catch (err) { console.error('bad removed event', err); }
  });
  es.addEventListener('indicators', (e) => {
    try {
      store.setIndicators(JSON.parse(e.data));
      fillIndicatorSelect();
      store.recolorAreas();
      areasDirty = true;
      scheduleFlush();
    } catch (err) { console.error('bad indicators event', err); }
  });
  es.addEventListener('resync', () => {
    // Reload, then resume from the snapshot: events arriving during the
    // reload would otherwise be overwritten by the older snapshot.
    setStatus(T.reloading, 'resync');
    es.close();
    loadEntities().then(loadSites).then(() => connectStream(snapshotSeq)).catch((err) => {
      setStatus(err.message, 'error');
      setTimeout(() => connectStream(last), 5000);
    });
  });
  const mine = es;
  es.onerror = () => {
    mine.close();
    setStatus(T.reconnecting, 'reconnecting');
    setTimeout(() => connectStream(last), 2000);
  };
}

// --- legend and controls ---------------------------------------------------

function swatch(color, label, shape) {
  const li = document.createElement('li');
  const s = document.createElement('span');
  s.className = 'swatch ' + (shape || '');
  s.style.background = color;
  li.append(s, document.createTextNode(label));
  return li;
}

function renderLegend(c = store.areaClasses) {
  const s = symbol(store.indicatorUnit(store.indicator), '');
  const u = s ? ' ' + s : '';
  const items = [];
  if (c) {
    const edges = [c.min, ...c.breaks, c.max];
    const n = c.max === c.min ? 1 : RAMP.length;
    for (let i = 0; i < n; i++) {
      const color = n === 1 ? RAMP[Math.floor(RAMP.length / 2)] : RAMP[i];
      const label = n === 1 ? `${num(c.min)}${u}` : `${num(edges[i])} – ${num(edges[i + 1])}${u}`;
      items.push(swatch(color, label));
    }
  }
  items.push(swatch(NO_DATA, T.noData));
  $('legend-areas').replaceChildren(...items);
  const areasWord = $('level').options.length > 1 ? levelLabel(store.level, lang) : T.legendAreas;
  $('legend-areas-title').textContent = store.indicator ? `${areasWord}: ${indicatorLabel(store.indicator, lang)}` : areasWord;
}

function renderStaticLegend() {
  $('legend-sites').replaceChildren(
    swatch(FRESHNESS.fresh, T.fresh, 'dot'), swatch(FRESHNESS.stale, T.stale, 'dot'),
    swatch(FRESHNESS.offline, T.offline, 'dot'), swatch(FRESHNESS.unknown, T.unknown, 'dot'));
  const ring = (color, label, fill = FRESHNESS.fresh) => {
    const li = swatch(fill, label, 'dot ring');
    li.firstChild.style.borderColor = color;
    return li;
  };
  $('legend-gateways').replaceChildren(
    ring(FLEET.ok, T.ringOk), ring(FLEET.degraded, T.ringDegraded),
    ring(FLEET.revoked, T.ringRevoked), ring(FLEET.offline, T.ringOffline, FRESHNESS.offline));
  $('legend-roads').replaceChildren(
    swatch(CONGESTION.free, T.flowing, 'line'), swatch(CONGESTION.congested, T.congested, 'line'),
    swatch(CONGESTION.unknown, T.noData, 'line'));
  document.querySelector('.legend').appendChild(alarmLegend());
}

$('indicator').addEventListener('change', (e) => {
  store.indicator = e.target.value;
  try { localStorage.setItem('ponte.indicator', store.indicator); } catch { /* ignore */ }
  store.recolorAreas();
  areasDirty = true;
  flush();
});

// --- clicks ----------------------------------------------------------------

// past holds, while time travelling, each site's properties at that
// moment (by ID); null when live.
let past = null;
let pastAt = null;
let popup = null;

const history = (entity, point) => {
  const to = new Date();
  const from = new Date(to.getTime() - 6 * 3600e3);
  return api(`/history?entity=${encodeURIComponent(entity)}&point=${encodeURIComponent(point)}` +
    `&from=${from.toISOString()}&to=${to.toISOString()}&every=5m`);
};

/** Opens the popup of feature id at lngLat (default: its own point), kept on screen. */
function openPopup(id, lngLat) {
  const f = store.features.get(String(id));
  if (!f) return;
  const props = (past && past.get(String(id))) || f.properties;
  const at = lngLat || labelPoint(f);
  if (popup) popup.remove();
  const body = details(props, store, history, { now: pastAt ? pastAt.getTime() : Date.now(), past: !!past });
  popupAlarms = { id: String(id), key: '', box: null, body };
  renderPopupAlarms();
  if (commands && props.kind === 'site' && !past) body.insertBefore(commands.section(String(id)), body.querySelector('figure.history'));
  popup = new maplibregl.Popup({ maxWidth: '340px', focusAfterOpen: true, className: 'ponte-popup' })
    .setLngLat(at).setDOMContent(body).addTo(map);
  keepOnScreen(popup);
}

// The open popup's alarms section, redrawn when that feature's alarms
// change (and only then, so a name being typed is not lost).
let popupAlarms = null;
function renderPopupAlarms() {
  if (!popupAlarms || !alarms) return;
  const list = alarms.of(popupAlarms.id);
  const key = list.map((a) => `${a.id}:${a.state}:${a.acknowledged ? a.acknowledged.at : ''}:${a.value}`).join('|');
  if (popupAlarms.box && key === popupAlarms.key) return;
  const box = alarmSection(list, (aid, who) => alarms.ack(aid, who));
  if (popupAlarms.box) popupAlarms.box.replaceWith(box);
  else popupAlarms.body.insertBefore(box, popupAlarms.body.querySelector('dl.meta')?.nextSibling || null);
  popupAlarms.box = box;
  popupAlarms.key = key;
}

/** The alarms changed: the panel, the rings and outlines, the open popup. */
function alarmsChanged() {
  if (attention) attention.setAlarms(alarms.available ? alarms.list() : null);
  map.getSource('alarms').setData(alarms.features(store));
  if (popup && popup.isOpen()) renderPopupAlarms();
}

/** A point of a feature to open its popup at. */
function labelPoint(f) {
  const g = f.geometry;
  if (g.type === 'Point') return g.coordinates;
  const b = new maplibregl.LngLatBounds();
  const walk = (c) => { if (typeof c[0] === 'number') b.extend(c); else for (const x of c) walk(x); };
  walk(g.coordinates);
  return b.getCenter();
}

/** Pans the map so the popup lies inside it (MapLibre's popups have no auto-pan). */
function keepOnScreen(p) {
  const check = () => {
    const el = p.getElement();
    if (!el) return;
    const r = el.getBoundingClientRect();
    const m = map.getContainer().getBoundingClientRect();
    const pad = 10;
    let dx = 0;
    let dy = 0;
    if (r.top < m.top + pad) dy = r.top - m.top - pad;
    else if (r.bottom > m.bottom - pad) dy = Math.min(r.bottom - m.bottom + pad, r.top - m.top - pad);
    if (r.left < m.left + pad) dx = r.left - m.left - pad;
    else if (r.right > m.right - pad) dx = r.right - m.right + pad;
    if (dx || dy) map.panBy([dx, dy], { duration: 0 });
  };
  requestAnimationFrame(check);
  // Charts arrive later and make the popup taller.
  new ResizeObserver(() => requestAnimationFrame(check)).observe(p.getElement());
}

/** Flies to feature id and opens its popup (search, the attention panel, the keyboard). */
function pick(id) {
  const f = store.features.get(String(id));
  if (!f) return;
  const g = f.geometry;
  if (g.type === 'Point') {
    map.jumpTo({ center: g.coordinates, zoom: Math.max(map.getZoom(), 16) });
  } else {
    const b = new maplibregl.LngLatBounds();
    const walk = (c) => { if (typeof c[0] === 'number') b.extend(c); else for (const x of c) walk(x); };
    walk(g.coordinates);
    map.fitBounds(b, { padding: 60, animate: false, maxZoom: 16 });
  }
  openPopup(id);
}

function onClick(e) {
  const hit = map.queryRenderedFeatures(e.point, { layers: CLICKABLE.filter((l) => map.getLayer(l)) })[0];
  if (!hit) return;
  if (hit.layer.id === 'clusters') {
    // The server's clusters are cells of 64 px: two zooms in splits one
    // into cells of a quarter of its side, and at CLUSTER_MAX_ZOOM into
    // sites where fewer than CROWDED share a cell.
    map.easeTo({ center: hit.geometry.coordinates, zoom: Math.min(map.getZoom() + 2, map.getZoom() < CLUSTER_MAX_ZOOM ? CLUSTER_MAX_ZOOM : SITES_MAXZOOM), duration: 0 });
    return;
  }
  if (hit.state && hit.state.removed) return;
  openPopup(hit.properties._id, e.lngLat);
}
map.on('click', onClick);
for (const l of CLICKABLE) {
  map.on('mouseenter', l, () => { map.getCanvas().style.cursor = 'pointer'; });
  map.on('mouseleave', l, () => { map.getCanvas().style.cursor = ''; });
}

// --- test hooks ------------------------------------------------------------

const ready = new Promise((resolve, reject) => {
  map.on('load', async () => {
    try {
      addLayers();
      renderStaticLegend();
      if (!cfg.token) { showTokenForm(T.tokenNeeded); throw new Error('no token'); }
      await api('/config').then((c) => { if (c && c.timeZone) setTimeZone(c.timeZone); }).catch(() => { /* no config API: Europe/Rome */ });
      attention = new Attention({ store, pick, api });
      filters = setupFilters({ store, onChange: applyFilter });
      setupSearch({ store, pick, lang });
      labels = new Labels(map, store, { sitesVisible: siteShown, areaShown: (p) => p._level === store.level, clusterCounts });
      travel = new TimeTravel({ api, onPast: showPast, onLive: backToLive });
      await Promise.all([loadEntities(true), loadIndicators().catch((err) => console.warn(err))]);
      setupLevels();
      keyboard = new Keyboard({ map, store, openPopup, closePopup, visible: siteShown, lang });
      flush();
      renderLegend();
      // Drawn from the tiles: ready. Then the sites' details, and the
      // stream from before the first of the snapshots (changes replayed
      // onto them are harmless), so that nothing is lost in between.
      map.once('idle', () => {
        performance.mark('ponte:painted');
        resolve(true);
        loadSites().catch((err) => { console.warn(err); setStatus(err.message, 'error'); }).finally(() => {
          alarms = new Alarms({ api, base: cfg.api, onChange: alarmsChanged });
          alarms.start();
          commands = new Commands({ api, store, pick, token: cfg.token });
          commands.start();
          connectStream(snapshotSeq);
        });
      });
    } catch (err) {
      if (err instanceof HTTPError && err.status === 401) showTokenForm(T.tokenRefused);
      setStatus(err.message, 'error');
      reject(err);
    }
  });
});
ready.catch(() => { /* reported in the status line */ });

map.on('render', () => { stats.renderAt = performance.now(); });

let filters = null;
let labels = null;
let keyboard = null;
let travel = null;
let alarms = null;
let commands = null;
// While time travelling, the snapshot's indicators (null when live or
// when the server does not answer them): the areas are coloured by them.
let pastIndicators = null;

/** Paints the areas from the snapshot's indicators. */
function paintPastAreas() {
  const { collection, classes } = areasAt(store, pastIndicators);
  map.getSource('areas').setData(collection);
  hand('areas', collection.features, true);
  renderLegend(classes);
}
$('indicator').addEventListener('change', () => { if (past && pastIndicators) paintPastAreas(); });

/** Applies the filters to the sites, their clusters and labels. */
function applyFilter(filter, choice) {
  filterChoice = choice;
  // The clusters' colours were their sites' that the old choice showed.
  cells = null;
  for (const id of cellsPainted) map.removeFeatureState({ source: 'sites', sourceLayer: SITES_LAYER, id });
  cellsPainted.clear();
  map.setFilter('sites', filter ? ['all', ROOMY_SITES, filter] : ROOMY_SITES);
  // The clusters are the server's: it filters the tiles.
  refreshTiles();
  if (labels) labels.schedule();
}

/** Shows the sites as the snapshot says they were at t. */
function showPast(snap, t) {
  past = new Map();
  pastAt = t;
  const feats = [];
  for (const s of snap.sites || []) {
    const f = store.features.get(String(s.id));
    if (!f) continue;
    const p = { ...f.properties, freshness: s.freshness, attrs: s.attrs, updated: s.updated };
    p._color = freshnessColor(p);
    past.set(String(s.id), p);
    feats.push({ ...f, properties: p });
  }
  // Painted over the tiles as live changes are (the clusters keep the
  // tiles' counts).
  map.removeFeatureState({ source: 'sites', sourceLayer: SITES_LAYER });
  for (const f of feats) map.setFeatureState({ source: 'sites', sourceLayer: SITES_LAYER, id: f.properties._id }, { color: f.properties._color });
  pastIndicators = snap.indicators || null;
  if (pastIndicators) paintPastAreas();
  if (popup && popup.isOpen()) popup.remove();
}

/** Back to the live twin. */
function backToLive() {
  past = null;
  pastAt = null;
  pastIndicators = null;
  if (popup && popup.isOpen()) popup.remove();
  setAll();
  // The tiles are asked again; until they come, the live colours over them.
  for (const f of store.features.values()) {
    const p = f.properties;
    if (p.kind === 'site' || p.kind === 'gateway') map.setFeatureState({ source: 'sites', sourceLayer: SITES_LAYER, id: p._id }, p._ring ? { color: p._color, ring: p._ring } : { color: p._color });
  }
  renderLegend();
}

// Keyboard: besides the search results and the attention panel (lists
// of buttons), the map itself takes focus and steps through the sites in
// view (keyboard.js).

/** Closes the open popup, if any; says whether one was open. */
function closePopup() {
  if (!popup || !popup.isOpen()) return false;
  popup.remove();
  return true;
}

/**
 * Test and automation hooks. featureCount counts the features of a kind
 * handed to the map's sources, in view or not (the map opens framed on the
 * sites, so areas and roads may lie outside it). featureColor reads the
 * feature from what the map itself draws (querySourceFeatures; null if it
 * is not drawn) and evaluates the layers' colour expression on it (feature
 * state, else the _color property), so it reports what is on screen.
 */
window.ponteMap = {
  map,
  ready,
  store,
  stats,
  featureCount(kind) {
    // The tiles hold every site and gateway of the scope: the summary's
    // counts, then the page's copy (which the stream keeps current).
    if (kind === 'site' || kind === 'gateway') {
      if (sitesLoaded) return storeCount(kind);
      return tilesInfo ? tilesInfo[kind + 's'] : 0;
    }
    const ids = handed.get(sourceOf(kind)) || new Set();
    let n = 0;
    for (const id of ids) if (store.features.get(id)?.properties.kind === kind) n++;
    return n;
  },
  /** The ring colour the map paints a gateway with (null if not drawn or not a gateway). */
  featureRing(id) {
    const f = store.features.get(String(id));
    if (!f || f.properties.kind !== 'gateway') return null;
    const hits = map.querySourceFeatures('sites', { sourceLayer: SITES_LAYER, filter: ['==', ['get', '_id'], String(id)] });
    if (!hits.length) return null;
    return map.getFeatureState({ source: 'sites', sourceLayer: SITES_LAYER, id: String(id) }).ring || FLEET[hits[0].properties.fleet] || FLEET.ok;
  },
  /** Whether the map's source holds a feature with this ID, whatever the page's copy says. */
  drawn(id) {
    const filter = ['==', ['get', '_id'], String(id)];
    if (['areas', 'roads'].some((s) => map.querySourceFeatures(s, { filter }).length > 0)) return true;
    const hits = map.querySourceFeatures('sites', { sourceLayer: SITES_LAYER, filter });
    return hits.length > 0 && !map.getFeatureState({ source: 'sites', sourceLayer: SITES_LAYER, id: String(id) }).removed;
  },
  /**
   * The cluster a site is drawn in at the tiles' zoom, as the page
   * reckons it from its copy of the sites: { id, color } (its _id and its
   * worst state's colour), or null if the site is drawn on its own.
   */
  clusterOf(id) {
    const f = store.features.get(String(id));
    return f && f.properties.kind === 'site' ? cellOfSite(f) : null;
  },
  /** Opens the popup of a feature as picking it from a list does. */
  pick,
  /** The open alarms the page knows, worst first. */
  alarms: () => (alarms ? alarms.list() : null),
  /** The state of the alarm ring or outline the map draws for a feature ('' if none). */
  alarmDrawn(id) {
    const hits = map.querySourceFeatures('alarms', { filter: ['==', ['get', '_id'], String(id)] });
    return hits.length ? hits[0].properties.state : '';
  },
  /** The moment the map shows while time travelling (null when live). */
  pastAt: () => (pastAt ? pastAt.toISOString() : null),
  /** Goes to a past moment (a Date or RFC 3339 string) as the slider does, resolved when shown. */
  travelTo: (t) => travel.show(new Date(t)),
  featureColor(id) {
    const f = store.features.get(String(id));
    if (!f) return null;
    // Filtered in the query, so only this feature is decoded; then the
    // layers' colour expression: the live feature state, else the data.
    const source = sourceOf(f.properties.kind);
    const filter = ['==', ['get', '_id'], String(id)];
    // First what is rendered around the feature's own point (the
    // rendered-feature index: a few features, however many the map
    // holds); else the whole source (every loaded tile: 100,000 sites
    // take a good part of a second per call).
    let hits = [];
    const c = f.geometry && f.geometry.type === 'Point' ? f.geometry.coordinates : null;
    const layers = { sites: ['sites', 'gateways', 'unclustered'], roads: ['roads'] }[source];
    if (c && layers) {
      const p = map.project(c);
      const box = [[p.x - 2, p.y - 2], [p.x + 2, p.y + 2]];
      hits = map.queryRenderedFeatures(box, { layers: layers.filter((l) => map.getLayer(l)), filter });
    }
    const tiles = source === 'sites' ? { sourceLayer: SITES_LAYER } : {};
    // A site drawn in a cluster shows as the cluster's colour.
    const cell = !hits.length && f.properties.kind === 'site' && !past ? cellOfSite(f) : null;
    if (cell) {
      const c = map.querySourceFeatures(source, { ...tiles, filter: ['==', ['get', '_id'], cell.id] });
      if (!c.length) return null;
      const q = c[0].properties;
      return map.getFeatureState({ source, ...tiles, id: cell.id }).color ||
        (q.offline ? FRESHNESS.offline : q.stale ? FRESHNESS.stale : q.fresh ? FRESHNESS.fresh : FRESHNESS.unknown);
    }
    if (!hits.length) hits = map.querySourceFeatures(source, { ...tiles, filter });
    if (!hits.length) return null;
    if (source === 'sites') {
      // The tiles' freshness, under the live (or past) colour.
      const state = map.getFeatureState({ source, ...tiles, id: String(id) });
      if (state.removed) return null;
      return state.color || FRESHNESS[hits[0].properties.freshness] || FRESHNESS.unknown;
    }
    const state = source === 'areas' || past ? {} : map.getFeatureState({ source, id: String(id) });
    return state.color || hits[0].properties._color;
  },
};
