// Alarms on the map: the open alarms (raised, acknowledged, cleared but
// not yet acknowledged) kept live from the alarms' stream (GET
// /api/v1/alarms/stream, opened with a single-use ticket as the twin's
// stream is: "alarms" sends the open list, "alarm" each change), or, when
// the server has no stream, by polling GET /api/v1/alarms every 30 s.
//
// On the map a site with an open alarm gets a ring around it and an area
// with one a red outline: thick red while raised (nobody has seen it),
// thin red once acknowledged, grey dashed-looking (thin grey) when its
// condition cleared but nobody acknowledged it yet. A popup lists the
// feature's alarms — quantity, value against threshold in SI units,
// since when, state, who acknowledged and when — with "Riconosci" for an
// operator, who gives a name (operator tokens are shared; the name is
// kept in localStorage for the next time).

import { T, ago, dateTime, lang, num } from './i18n.js';
import { symbol } from './units.js';

/** Colours and widths of the alarm rings and outlines, by state. */
export const ALARM_STYLE = {
  raised: { color: '#c00000', width: 4 },
  acknowledged: { color: '#c00000', width: 1.5 },
  cleared: { color: '#6b6b6b', width: 2 },
};

const WORDS = {
  it: {
    alarms: 'Allarmi', ack: 'Riconosci', operator: 'Operatore', operatorNeeded: 'Indicare il nome di chi riconosce',
    state: { raised: 'attivo, da riconoscere', acknowledged: 'attivo, riconosciuto', cleared: 'rientrato, da riconoscere', closed: 'chiuso' },
    since: 'dal', ackBy: (who, when) => `riconosciuto da ${who} ${when}`, cleared: 'rientrato', threshold: 'soglia', mean: 'media',
    peak: 'picco', legend: 'Allarmi (anello)', failed: 'Riconoscimento non riuscito', city: 'Intera città',
  },
  en: {
    alarms: 'Alarms', ack: 'Acknowledge', operator: 'Operator', operatorNeeded: 'Give the name of who acknowledges',
    state: { raised: 'active, unacknowledged', acknowledged: 'active, acknowledged', cleared: 'cleared, unacknowledged', closed: 'closed' },
    since: 'since', ackBy: (who, when) => `acknowledged by ${who} ${when}`, cleared: 'cleared', threshold: 'threshold', mean: 'mean',
    peak: 'peak', legend: 'Alarms (ring)', failed: 'Acknowledgement failed', city: 'Whole city',
  },
};
/** The alarm words of the page's language. */
export const AW = WORDS[lang];

const OPERATOR_KEY = 'ponte.operator';
const OPEN = new Set(['raised', 'acknowledged', 'cleared']);

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}

/** The alarm's label in the page's language. */
export function alarmLabel(a) {
  const l = a.label || {};
  return (lang === 'en' ? l.en : l.it) || l.it || l.en || a.rule || a.id;
}

/** "212 µg/m³ (soglia 200 µg/m³)": the value against the threshold, with the unit's symbol. */
export function alarmValue(a) {
  const s = symbol(a.unit, a.quantity);
  const u = s ? ' ' + s : '';
  const sign = a.direction === 'below' ? '<' : '>';
  return `${num(a.value)}${u} ${sign} ${AW.threshold} ${num(a.threshold)}${u}`;
}

/** Alarms keeps the open alarms and tells its listener when they change. */
export class Alarms {
  /**
   * @param {object} o
   * @param {(path: string, onResponse?: Function, method?: string, body?: any) => Promise<any>} o.api calls the API with the token
   * @param {string} o.base the API's base path (/api/v1)
   * @param {() => void} o.onChange called after every change of the open alarms
   */
  constructor({ api, base, onChange }) {
    this.api = api;
    this.base = base;
    this.onChange = onChange;
    /** @type {Map<string, object>} open alarms by ID */
    this.open = new Map();
    this.available = false; // the server has an alarms API
    this.es = null;
    this.pollTimer = 0;
  }

  /** Starts following the alarms: the stream, else polling. */
  async start() {
    try {
      const { ticket } = await this.api('/stream/ticket', null, 'POST');
      const es = new EventSource(`${this.base}/alarms/stream?ticket=${encodeURIComponent(ticket)}`);
      this.es = es;
      let opened = false;
      es.addEventListener('alarms', (e) => {
        opened = true;
        try { this.replace(JSON.parse(e.data).alarms || []); } catch (err) { console.error('bad alarms event', err); }
      });
      es.addEventListener('alarm', (e) => {
        try { this.apply(JSON.parse(e.data).alarm); } catch (err) { console.error('bad alarm event', err); }
      });
      es.onerror = () => {
        es.close();
        if (this.es !== es) return;
        this.es = null;
        // A stream that never opened (no alarms configured: 503): poll.
        if (!opened) { this.poll(); return; }
        setTimeout(() => this.start(), 2000);
      };
    } catch (err) {
      console.warn('alarms stream', err.message);
      this.poll();
    }
  }

  /** Polls GET /alarms every 30 s (a 404 or 503 means no alarms). */
  async poll() {
    clearTimeout(this.pollTimer);
    try {
      const l = await this.api('/alarms');
      this.replace(l.alarms || []);
    } catch (err) {
      if (err.status !== 404 && err.status !== 503) console.warn('alarms', err.message);
      this.available = false;
      this.onChange();
    }
    this.pollTimer = setTimeout(() => this.poll(), 30000);
  }

  /** Replaces the open alarms with a list. */
  replace(list) {
    this.available = true;
    this.open = new Map(list.filter((a) => OPEN.has(a.state)).map((a) => [a.id, a]));
    this.onChange();
  }

  /** Applies one changed alarm. */
  apply(a) {
    if (!a || !a.id) return;
    if (OPEN.has(a.state)) this.open.set(a.id, a);
    else this.open.delete(a.id);
    this.onChange();
  }

  /** The open alarms, worst first: raised, then cleared unacknowledged, then acknowledged; newest first. */
  list() {
    const rank = { raised: 0, cleared: 1, acknowledged: 2 };
    return [...this.open.values()].sort((a, b) => rank[a.state] - rank[b.state] || String(b.raisedAt).localeCompare(String(a.raisedAt)));
  }

  /** The open alarms of an entity. */
  of(id) {
    return this.list().filter((a) => a.entity === String(id));
  }

  /** The worst state of an entity's open alarms ('' if none). */
  worst(id) {
    const l = this.of(id);
    return l.length ? l[0].state : '';
  }

  /** Acknowledges an alarm in the name of operator; resolves to the alarm. */
  async ack(id, operator, note) {
    const a = await this.api(`/alarms/${encodeURIComponent(id)}/ack`, null, 'POST', { operator, ...(note ? { note } : {}) });
    this.apply(a);
    return a;
  }

  /**
   * The map features of the rings and outlines: a point per site alarm
   * (its location, else the site's), the area's shape per area alarm;
   * store gives the features' geometry.
   */
  features(store) {
    const out = [];
    const seen = new Set();
    for (const a of this.list()) {
      if (seen.has(a.entity)) continue; // the worst one speaks for the entity
      seen.add(a.entity);
      const f = store.features.get(a.entity);
      let geometry = f ? f.geometry : null;
      if (!geometry && a.location) geometry = { type: 'Point', coordinates: a.location };
      if (!geometry) continue;
      const st = ALARM_STYLE[a.state];
      out.push({ type: 'Feature', id: a.entity, geometry,
        properties: { _id: a.entity, state: a.state, color: st.color, width: st.width, kind: f ? f.properties.kind : a.entityKind } });
    }
    return { type: 'FeatureCollection', features: out };
  }
}

/** The alarm layers: rings round sites, outlines of areas. Call after the sites' layers. */
export function addAlarmLayers(map) {
  map.addSource('alarms', { type: 'geojson', data: { type: 'FeatureCollection', features: [] }, promoteId: '_id' });
  map.addLayer({
    id: 'alarm-areas', type: 'line', source: 'alarms', filter: ['!=', ['geometry-type'], 'Point'],
    paint: { 'line-color': ['get', 'color'], 'line-width': ['+', ['get', 'width'], 0.5] },
  }, 'roads-casing');
  map.addLayer({
    id: 'alarm-rings', type: 'circle', source: 'alarms', filter: ['==', ['geometry-type'], 'Point'],
    paint: {
      'circle-color': 'rgba(0,0,0,0)',
      'circle-radius': ['interpolate', ['linear'], ['zoom'], 8, 7, 12, 10, 16, 16],
      'circle-stroke-color': ['get', 'color'],
      'circle-stroke-width': ['get', 'width'],
    },
  });
}

/** The legend's list of alarm states. */
export function alarmLegend() {
  const box = document.createDocumentFragment();
  box.appendChild(el('h2', AW.legend));
  const ul = el('ul');
  for (const s of ['raised', 'acknowledged', 'cleared']) {
    const li = el('li');
    const sw = el('span', undefined, 'swatch dot alarm-ring');
    sw.style.borderColor = ALARM_STYLE[s].color;
    sw.style.borderWidth = `${Math.max(1, Math.round(ALARM_STYLE[s].width * 0.75))}px`;
    li.append(sw, document.createTextNode(AW.state[s]));
    ul.appendChild(li);
  }
  box.appendChild(ul);
  return box;
}

/** One line of the attention panel: [main, sub]. */
export function alarmLine(a) {
  const where = a.entityKind === 'city' ? AW.city : a.entityName || a.entity;
  return [`${alarmLabel(a)} · ${where}`, [alarmValue(a), AW.state[a.state], `${AW.since} ${dateTime(a.raisedAt)}`].join(' · ')];
}

/**
 * The popup's section of an entity's open alarms, with "Riconosci" for
 * each one not yet acknowledged. onAck(id, operator) acknowledges.
 */
export function alarmSection(list, onAck) {
  const box = el('section', undefined, 'alarms');
  if (!list.length) return box;
  box.appendChild(el('h3', `${AW.alarms} (${list.length})`));
  const ul = el('ul', undefined, 'alarm-list');
  for (const a of list) {
    const li = el('li', undefined, 'alarm-item state-' + a.state);
    li.dataset.alarm = a.id;
    li.dataset.state = a.state;
    li.appendChild(el('div', alarmLabel(a), 'alarm-label'));
    li.appendChild(el('div', alarmValue(a) + (a.window ? ` (${AW.mean} ${a.window.replace(/0s$/, '').replace(/h0m$/, 'h')})` : ''), 'alarm-value'));
    li.appendChild(el('div', `${AW.state[a.state]} · ${AW.since} ${dateTime(a.raisedAt)} (${ago(a.raisedAt)})`, 'alarm-state'));
    if (a.acknowledged) {
      li.appendChild(el('div', AW.ackBy(a.acknowledged.by, dateTime(a.acknowledged.at)), 'alarm-ack'));
    }
    if (a.clearedAt) li.appendChild(el('div', `${AW.cleared} ${dateTime(a.clearedAt)}`, 'alarm-cleared'));
    if (!a.acknowledged) {
      const form = el('form', undefined, 'alarm-ackform');
      const input = el('input');
      input.name = 'operator';
      input.required = true;
      input.autocomplete = 'name';
      input.placeholder = AW.operator;
      input.setAttribute('aria-label', AW.operator);
      try { input.value = localStorage.getItem(OPERATOR_KEY) || ''; } catch { /* private mode */ }
      const button = el('button', AW.ack, 'alarm-ack-button');
      button.type = 'submit';
      const msg = el('span', '', 'alarm-msg');
      form.append(input, button, msg);
      form.addEventListener('submit', async (e) => {
        e.preventDefault();
        const who = input.value.trim();
        if (!who) { msg.textContent = AW.operatorNeeded; input.focus(); return; }
        try { localStorage.setItem(OPERATOR_KEY, who); } catch { /* private mode */ }
        button.disabled = true;
        try {
          await onAck(a.id, who);
        } catch (err) {
          msg.textContent = `${AW.failed}: ${err.message}`;
          button.disabled = false;
        }
      });
      li.appendChild(form);
    }
    ul.appendChild(li);
  }
  box.appendChild(ul);
  return box;
}
