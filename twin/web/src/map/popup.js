// Details of a clicked feature, built with DOM calls (names and values come
// from site configs and devices, so they are never parsed as HTML).

import { fmt, indicatorLabel, unitText } from '../shared/ramp.js';
import { sparkline } from './sparkline.js';

// Attributes a sparkline prefers, in order (FIWARE Smart Data Models names).
const PRIMARY = ['intensity', 'averageVehicleSpeed', 'occupancy', 'pm10', 'pm25', 'no2', 'o3', 'LAeq',
  'availableSpotNumber', 'power', 'energy', 'temperature'];

/** The attribute whose history the popup draws: a known one, else the first numeric one. */
export function mainAttr(attrs) {
  if (!attrs) return '';
  for (const n of PRIMARY) if (attrs[n] && typeof attrs[n].value === 'number') return n;
  for (const [n, a] of Object.entries(attrs)) if (typeof a.value === 'number') return n;
  return '';
}

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}

/** How long ago time t was, in words: "just now", "2 min ago", "3 h ago", "2 d ago". */
export function ago(t, now = Date.now()) {
  const s = Math.round((now - new Date(t).getTime()) / 1000);
  if (!Number.isFinite(s)) return '';
  if (s < 0) return 'in the future (clock ahead)';
  if (s < 10) return 'just now';
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} d ago`;
}

/** A time as "2 min ago (4/5/2026, 10:00:00)", or '' when there is none. */
export function when(t) {
  if (!t) return '';
  const d = new Date(t);
  return Number.isNaN(d.getTime()) ? String(t) : `${ago(d)} (${d.toLocaleString()})`;
}

const FLEET_LABELS = { revoked: 'revoked', offline: 'offline', degraded: 'devices failing', ok: 'online' };

/** The fleet table of a gateway: its status, version, health and revocation. */
function fleetTable(props, attrs) {
  const v = (n) => (attrs && attrs[n] ? attrs[n].value : undefined);
  const t = el('table', undefined, 'attrs fleet');
  t.appendChild(el('caption', 'Gateway'));
  const row = (k, val, cls) => {
    const tr = el('tr');
    if (cls) tr.className = cls;
    tr.appendChild(el('th', k));
    tr.appendChild(el('td', val === undefined || val === null || val === '' ? '–' : String(val)));
    t.appendChild(tr);
  };
  const state = props._fleet || 'ok';
  row('Status', FLEET_LABELS[state] || state, 'fleet-' + state);
  row('State', v('deviceState'));
  row('Version', v('softwareVersion'));
  row('Last seen', when(v('lastSeen')));
  row('Buffered readings', v('buffered') === undefined ? undefined : fmt(v('buffered')));
  row('Oldest unsent', v('buffered') === undefined ? undefined : (when(v('oldestUnsent')) || 'none'));
  row('Devices up', v('devicesUp'));
  row('Devices bad', v('devicesBad'), v('devicesBad') > 0 ? 'fleet-degraded' : '');
  row('Revoked', v('revoked') === true ? 'yes: it can no longer publish' : 'no', v('revoked') === true ? 'fleet-revoked' : '');
  return t;
}

/**
 * Builds the popup body of a feature's properties; fetchHistory(entity,
 * point) resolves to the history JSON for the sparkline.
 */
export function details(props, store, fetchHistory) {
  const root = el('div', undefined, 'details');
  root.appendChild(el('h2', props.name || props._id));
  const meta = el('dl', undefined, 'meta');
  const row = (k, v) => { if (v === undefined || v === null || v === '') return; meta.appendChild(el('dt', k)); meta.appendChild(el('dd', String(v))); };
  row('ID', props._id);
  row('Type', props.type);
  if (props.kind !== 'area') row('Freshness', props.freshness);
  row('Updated', props.updated ? new Date(props.updated).toLocaleString() : '');
  row('Area', props.area);
  row('Road', props.road);
  row('Gateway', props.gateway);
  row('Device', props.device);
  root.appendChild(meta);

  let attrs = props.attrs;
  if (typeof attrs === 'string') { try { attrs = JSON.parse(attrs); } catch { attrs = null; } }
  if (props.kind === 'gateway') {
    root.appendChild(fleetTable(props, attrs));
  } else if (attrs && Object.keys(attrs).length) {
    const t = el('table', undefined, 'attrs');
    t.appendChild(el('caption', 'Latest values'));
    for (const [n, a] of Object.entries(attrs).sort(([x], [y]) => x.localeCompare(y))) {
      const tr = el('tr');
      tr.appendChild(el('th', n));
      tr.appendChild(el('td', `${fmt(a.value)}${unitText(a.unit)}`));
      t.appendChild(tr);
    }
    root.appendChild(t);
  }

  if (props.kind === 'area' && store.indicators) {
    const a = (store.indicators.areas || []).find((x) => x.id === props._id);
    if (a) {
      const t = el('table', undefined, 'attrs');
      t.appendChild(el('caption', 'Indicators'));
      for (const i of a.indicators || []) {
        const tr = el('tr');
        tr.appendChild(el('th', indicatorLabel(i.name)));
        tr.appendChild(el('td', `${fmt(i.value)}${unitText(i.unit)} (${i.sensors} sensors, ${i.window})`));
        t.appendChild(tr);
      }
      root.appendChild(t);
    }
  }

  const point = mainAttr(attrs);
  // Only sites have series in the history: a gateway's fleet state is not
  // written to InfluxDB.
  if (props.kind === 'site' && point) {
    const box = el('figure', undefined, 'history');
    const cap = el('figcaption', `${point}, last 6 hours`);
    box.appendChild(cap);
    const loading = el('span', 'loading…');
    box.appendChild(loading);
    root.appendChild(box);
    fetchHistory(props._id, point).then((h) => {
      loading.remove();
      box.appendChild(sparkline(h.points || [], { label: point, unit: h.unit || '' }));
    }).catch((err) => { loading.textContent = `history unavailable: ${err.message}`; });
  }
  return root;
}
