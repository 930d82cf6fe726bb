// "Da controllare": what needs an operator's attention, worst first —
// offline gateways with their last contact, gateways whose devices fail,
// stale and offline sites, and the open alarms when the server has an
// alarms API (kept live by alarms.js; without one the section stays
// away). It also drives the header's live indicator, which reflects
// both the stream and the fleet ("In diretta · 2 gateway offline"), and a
// banner raised when a gateway goes offline.

import { T, ago, dateTime } from './i18n.js';
import { attrValue, fleetState } from './store.js';
import { alarmLine } from './alarms.js';

// SHOWN is how many entries a section lists (the rest are counted).
const SHOWN = 50;
// One collator for every comparison: String.localeCompare builds one per
// call, which made sorting 25,000 stale sites of a 100,000-site map take
// seconds of the page's only thread.
const collator = new Intl.Collator();
const byName = (a, b) => collator.compare(String(a.properties.name), String(b.properties.name));

/**
 * The first k items of list in cmp's order, without sorting the whole
 * list: a change of a 100,000-site twin refreshes the panel, which shows
 * 50 of its stale sites.
 */
export function firstSorted(list, k, cmp) {
  const top = [];
  for (const it of list) {
    if (top.length === k && cmp(it, top[k - 1]) >= 0) continue;
    let lo = 0;
    let hi = top.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cmp(top[mid], it) <= 0) lo = mid + 1; else hi = mid;
    }
    top.splice(lo, 0, it);
    if (top.length > k) top.pop();
  }
  return top;
}

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}

/** Attention keeps the panel, the banner and the live indicator. */
export class Attention {
  /**
   * @param {object} o
   * @param {import('./store.js').Store} o.store
   * @param {(id: string) => void} o.pick opens a feature (flies there, opens its popup)
   * @param {(path: string) => Promise<any>} o.api GETs an API path
   */
  constructor({ store, pick, api }) {
    this.store = store;
    this.pick = pick;
    this.api = api;
    this.stream = 'loading'; // the stream's state: loading, live, reconnecting, error, resync
    this.streamText = T.loading;
    this.offline = new Map(); // gateway ID -> was offline at the last refresh
    this.alarms = null; // null: no alarms API
    this.primed = false;
    this.timer = 0;
    this.cost = 0; // how long the last refresh took, in ms
    document.getElementById('banner-close').addEventListener('click', () => { document.getElementById('banner').hidden = true; });
  }

  /** Sets the stream's state and text and repaints the indicator. */
  setStream(state, text) {
    this.stream = state;
    this.streamText = text;
    this.paintStatus();
  }

  /** Asks for a refresh soon (after a burst of changes). */
  changed() {
    if (this.timer) return;
    // At most a fifth of the page's time goes to the panel, whatever
    // the size of the twin.
    this.timer = setTimeout(() => { this.timer = 0; this.refresh(); }, Math.max(250, 4 * this.cost));
  }

  /** Sets the open alarms (alarms.js's list; null when the server has no alarms API). */
  setAlarms(list) {
    this.alarms = list;
    this.refresh();
  }

  /** The gateways offline now, sorted by name. */
  offlineGateways() {
    const out = [];
    for (const f of this.store.features.values()) {
      if (f.properties.kind === 'gateway' && fleetState(f.properties) === 'offline') out.push(f);
    }
    return out.sort(byName);
  }

  paintStatus() {
    const s = document.getElementById('status');
    const n = this.offlineGateways().length;
    let text = this.streamText;
    let state = this.stream;
    if (this.stream === 'live' && n > 0) {
      text = `${T.live} · ${T.gatewaysOffline(n)}`;
      state = 'degraded';
    }
    s.textContent = text;
    s.dataset.state = state;
  }

  /** Recomputes the panel, the banner and the indicator. */
  refresh() {
    const t0 = performance.now();
    const gws = [];
    const degraded = [];
    const sites = [];
    for (const f of this.store.features.values()) {
      const p = f.properties;
      if (p.kind === 'gateway') {
        const st = fleetState(p);
        if (st === 'offline') gws.push(f);
        else if (st === 'degraded' || st === 'revoked') degraded.push(f);
      } else if (p.kind === 'site' && (p.freshness === 'stale' || p.freshness === 'offline')) {
        sites.push(f);
      }
    }
    gws.sort(byName); degraded.sort(byName);
    const staleShown = firstSorted(sites, SHOWN, byName);
    this.banner(gws);
    const body = document.getElementById('attention-list');
    const parts = [];
    // items are the first SHOWN (or all) of total.
    const section = (title, items, line, total = items.length) => {
      if (!total) return;
      const h = el('h3', `${title} (${total})`);
      const ul = el('ul');
      for (const it of items.slice(0, SHOWN)) {
        const li = el('li');
        const b = el('button', undefined, 'linklike');
        b.type = 'button';
        const [main, sub, cls] = line(it);
        b.appendChild(el('span', main, 'name'));
        if (sub) b.appendChild(el('span', sub, 'sub'));
        if (cls) li.className = cls;
        if (it.properties) b.addEventListener('click', () => this.pick(it.properties._id));
        else if (it.entity && it.entityKind !== 'city') b.addEventListener('click', () => this.pick(it.entity));
        li.appendChild(b);
        ul.appendChild(li);
      }
      if (total > SHOWN) ul.appendChild(el('li', `+ ${total - SHOWN}`));
      parts.push(h, ul);
    };
    if (this.alarms) {
      section(T.openAlarms, this.alarms, (a) => [...alarmLine(a), 'alarm state-' + a.state]);
    }
    section(T.offlineGateways, gws, (f) => {
      const seen = attrValue(f.properties, 'lastSeen');
      return [f.properties.name, seen ? `${T.lastSeen} ${ago(seen)} (${dateTime(seen)})` : '', 'offline'];
    });
    section(T.badDevices, degraded, (f) => [f.properties.name, fleetState(f.properties) === 'revoked' ? T.fleet.revoked : `${T.gwBad}: ${attrValue(f.properties, 'devicesBad')}`, 'degraded']);
    section(T.staleDevices, staleShown, (f) => [f.properties.name, `${T[f.properties.freshness]}${f.properties.updated ? ' · ' + ago(f.properties.updated) : ''}`, f.properties.freshness], sites.length);
    if (!parts.length) parts.push(el('p', T.nothingWrong, 'muted'));
    body.replaceChildren(...parts);
    const total = gws.length + degraded.length + sites.length + (this.alarms ? this.alarms.length : 0);
    document.getElementById('attention-count').textContent = total ? String(total) : '';
    this.paintStatus();
    this.cost = performance.now() - t0;
  }

  /** Raises the banner for gateways that went offline since the last refresh. */
  banner(gws) {
    const now = new Set(gws.map((f) => f.properties._id));
    const newly = this.primed ? gws.filter((f) => !this.offline.get(f.properties._id)) : [];
    this.offline = new Map([...now].map((id) => [id, true]));
    this.primed = true;
    const b = document.getElementById('banner');
    // A gateway back online takes its banner away.
    if (!b.hidden && b.dataset.gateway && !now.has(b.dataset.gateway)) b.hidden = true;
    if (!newly.length) return;
    const f = newly[0];
    const seen = attrValue(f.properties, 'lastSeen');
    let text = T.bannerOffline(f.properties.name, seen ? `${ago(seen)} (${dateTime(seen)})` : '');
    if (newly.length > 1) text += ` (+${newly.length - 1})`;
    document.getElementById('banner-text').textContent = text;
    b.dataset.gateway = f.properties._id;
    b.hidden = false;
  }
}
