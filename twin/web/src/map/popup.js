// Details of a picked feature, built with DOM calls (names and values come
// from site configs and devices, so they are never parsed as HTML): the
// site's, area's and road's names, the quantities operators read with
// their SI symbols and ages, internal points folded under "Dettagli
// tecnici", and a chart with axes of every numeric or boolean series.

import { indicatorLabel } from '../shared/ramp.js';
import { T, ago, dateTime, lang, num, when } from './i18n.js';
import { sparkline } from './sparkline.js';
import { axisUnit, isInternal, isRatio, label, symbol, valueText } from './units.js';

// Attributes shown first, in this order (FIWARE Smart Data Models names).
const PRIMARY = ['intensity', 'averageVehicleSpeed', 'occupancy', 'congested', 'airQualityLevel', 'airQualityIndex', 'no2', 'pm10', 'pm25',
  'o3', 'LAeq', 'LAFmax', 'status', 'power', 'energy', 'temperature', 'relativeHumidity', 'atmosphericPressure', 'windSpeed'];

// Derived attributes with no series of their own in InfluxDB: their
// history is not asked for (intensity is drawn as the sum over lanes).
const DERIVED = new Set(['congested', 'airQualityIndex', 'airQualityLevel', 'status']);

/** The attribute names in reading order: known first, then the rest by name. */
export function ordered(attrs) {
  const names = Object.keys(attrs || {});
  const rank = (n) => { const i = PRIMARY.indexOf(n); return i < 0 ? PRIMARY.length : i; };
  return names.sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}

function parseAttrs(props) {
  let attrs = props.attrs;
  if (typeof attrs === 'string') { try { attrs = JSON.parse(attrs); } catch { attrs = null; } }
  return attrs || {};
}

/** The name of the feature with id in store ('' if unknown). */
function nameOf(store, id) {
  if (!id) return '';
  const f = store.features.get(String(id));
  return f ? f.properties.name || String(id) : String(id);
}

/** The fleet table of a gateway. */
function fleetTable(props, attrs, now) {
  const v = (n) => (attrs[n] ? attrs[n].value : undefined);
  const t = el('table', undefined, 'attrs fleet');
  t.appendChild(el('caption', T.gateway));
  const row = (k, val, cls) => {
    const tr = el('tr');
    if (cls) tr.className = cls;
    tr.appendChild(el('th', k));
    tr.appendChild(el('td', val === undefined || val === null || val === '' ? '–' : String(val)));
    t.appendChild(tr);
  };
  const state = props._fleet || 'ok';
  row(T.gwStatus, T.fleet[state] || state, 'fleet-' + state);
  row(T.gwState, v('deviceState'));
  row(T.gwVersion, v('softwareVersion'));
  row(T.gwLastSeen, when(v('lastSeen'), now));
  row(T.gwBuffered, v('buffered') === undefined ? undefined : num(v('buffered')));
  row(T.gwOldest, v('buffered') === undefined ? undefined : (when(v('oldestUnsent'), now) || T.none));
  row(T.gwUp, v('devicesUp'));
  row(T.gwBad, v('devicesBad'), v('devicesBad') > 0 ? 'fleet-degraded' : '');
  row(T.gwRevoked, v('revoked') === true ? T.gwRevokedYes : T.no, v('revoked') === true ? 'fleet-revoked' : '');
  return t;
}

/** A values table: quantity, value with symbol, age. */
function valuesTable(caption, names, attrs, now, cls) {
  const t = el('table', undefined, 'attrs ' + (cls || ''));
  if (caption) t.appendChild(el('caption', caption));
  for (const n of names) {
    const a = attrs[n];
    const tr = el('tr');
    tr.dataset.name = n;
    tr.appendChild(el('th', label(n)));
    tr.appendChild(el('td', valueText(n, a.value, a.unit), 'value'));
    tr.appendChild(el('td', a.observedAt ? ago(a.observedAt, now) : '', 'age'));
    t.appendChild(tr);
  }
  return t;
}

/**
 * Builds the popup body of a feature's properties. fetchHistory(entity,
 * point) resolves to the history JSON of a chart; now is the moment shown
 * (a past one while time travelling), past says so (no charts then).
 */
export function details(props, store, fetchHistory, { now = Date.now(), past = false } = {}) {
  const root = el('div', undefined, 'details');
  root.appendChild(el('h2', props.name || props._id));
  const meta = el('dl', undefined, 'meta');
  const row = (k, v) => { if (v === undefined || v === null || v === '') return; meta.appendChild(el('dt', k)); meta.appendChild(el('dd', String(v))); };
  if (props.kind !== 'area') row(T.freshness, T[props.freshness] || props.freshness);
  row(T.updated, props.updated ? when(props.updated, now) : '');
  row(T.area, nameOf(store, props.area));
  row(T.road, nameOf(store, props.road));
  if (props.kind === 'site' && props.gateway) {
    const g = store.features.get('urn:ngsi-ld:Device:' + props.gateway);
    row(T.gateway, g ? g.properties.name : props.gateway);
  }
  root.appendChild(meta);

  const attrs = parseAttrs(props);
  if (props.kind === 'gateway') {
    root.appendChild(fleetTable(props, attrs, now));
  } else if (Object.keys(attrs).length) {
    const names = ordered(attrs);
    const main = names.filter((n) => !isInternal(n));
    const internal = names.filter((n) => isInternal(n));
    if (main.length) root.appendChild(valuesTable(T.values, main, attrs, now, 'main'));
    if (internal.length || props._id || props.device) {
      const det = el('details', undefined, 'technical');
      det.appendChild(el('summary', T.technical));
      if (internal.length) det.appendChild(valuesTable('', internal, attrs, now));
      const dl = el('dl', undefined, 'meta');
      for (const [k, v] of [[T.id, props._id], [T.type, props.type], [T.device, props.device], [T.gateway, props.gateway]]) {
        if (v) { dl.appendChild(el('dt', k)); dl.appendChild(el('dd', String(v))); }
      }
      det.appendChild(dl);
      root.appendChild(det);
    }
    if (props.kind === 'site' && !past) charts(root, props, main.filter((n) => !DERIVED.has(n)), attrs, fetchHistory);
  }

  if (props.kind === 'area' && store.indicators) {
    const a = (store.indicators.areas || []).find((x) => x.id === props._id);
    if (a) {
      const t = el('table', undefined, 'attrs');
      t.appendChild(el('caption', T.indicators));
      for (const i of a.indicators || []) {
        const tr = el('tr');
        tr.appendChild(el('th', indicatorLabel(i.name, lang)));
        const s = symbol(i.unit, '');
        tr.appendChild(el('td', `${num(i.value)}${s ? ' ' + s : ''} (${T.sensors(i.sensors)}, ${i.window})`));
        t.appendChild(tr);
      }
      root.appendChild(t);
    }
  }
  return root;
}

/** One chart per numeric or boolean attribute, each fetched on its own. */
function charts(root, props, names, attrs, fetchHistory) {
  for (const n of names) {
    const a = attrs[n];
    const isBool = typeof a.value === 'boolean';
    if (typeof a.value !== 'number' && !isBool) continue;
    const box = el('figure', undefined, 'history');
    box.dataset.name = n;
    const cap = el('figcaption', `${label(n)}${isBool ? ' (' + T.shareTrue + ')' : ''}, ${T.history6h}`);
    box.appendChild(cap);
    const loading = el('span', T.loading);
    box.appendChild(loading);
    root.appendChild(box);
    fetchHistory(props._id, n).then((h) => {
      loading.remove();
      const share = isBool || h.unit === '1' && isBool;
      const ratio = share || isRatio(n, h.unit || a.unit);
      const unit = axisUnit(n, h.unit || a.unit, share);
      if (unit) cap.textContent += ` (${unit})`;
      box.appendChild(sparkline(h.points || [], { label: label(n), unit, scale: ratio ? 100 : 1 }));
    }).catch((err) => { loading.textContent = `${T.historyUnavailable}: ${err.message}`; });
  }
}

export { dateTime };
