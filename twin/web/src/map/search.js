// Search by site, road, area or gateway name (a site also matches by its
// road's and area's names, so "Via Cavour" lists the sites on it), with a
// results list that is a list of buttons: Tab and arrows move, Enter
// picks; picking flies there and opens the popup. Filters by type
// (category) and freshness restrict the sites drawn.

import { T } from './i18n.js';

const KIND_ORDER = { site: 0, gateway: 1, road: 2, area: 3 };
const KIND_LABEL = { it: { site: 'sito', gateway: 'gateway', road: 'strada', area: 'area' }, en: { site: 'site', gateway: 'gateway', road: 'road', area: 'area' } };

function norm(s) {
  return String(s || '').normalize('NFD').replace(/[\u0300-\u036f]/g, '').toLowerCase();
}

/**
 * Finds features whose name (or, for sites, road or area name) contains
 * every word of q; at most limit, sites first.
 */
export function find(store, q, limit = 20) {
  const words = norm(q).split(/\s+/).filter(Boolean);
  if (!words.length) return [];
  const nameOf = (id) => (id && store.features.get(String(id)) ? store.features.get(String(id)).properties.name : '');
  const out = [];
  for (const f of store.features.values()) {
    const p = f.properties;
    const own = norm(p.name);
    let hay = own;
    if (p.kind === 'site') hay += ' ' + norm(nameOf(p.road)) + ' ' + norm(nameOf(p.area)) + ' ' + norm(p.gateway);
    if (p.kind === 'gateway') hay += ' ' + norm(p.gateway);
    if (words.every((w) => hay.includes(w))) out.push({ f, byName: words.every((w) => own.includes(w)) });
  }
  out.sort((a, b) => (b.byName - a.byName) || (KIND_ORDER[a.f.properties.kind] - KIND_ORDER[b.f.properties.kind]) ||
    String(a.f.properties.name).localeCompare(String(b.f.properties.name)));
  return out.slice(0, limit).map((x) => x.f);
}

/** Wires the search box and its results list. */
export function setupSearch({ store, pick, lang }) {
  const input = document.getElementById('search');
  const list = document.getElementById('search-results');
  const kinds = KIND_LABEL[lang] || KIND_LABEL.it;
  const nameOf = (id) => (id && store.features.get(String(id)) ? store.features.get(String(id)).properties.name : '');
  const render = () => {
    const q = input.value.trim();
    if (!q) { list.replaceChildren(); list.hidden = true; return; }
    const found = find(store, q);
    const items = found.map((f) => {
      const p = f.properties;
      const li = document.createElement('li');
      const b = document.createElement('button');
      b.type = 'button';
      b.className = 'result';
      b.dataset.id = p._id;
      const name = document.createElement('span');
      name.className = 'name';
      name.textContent = p.name || p._id;
      const sub = document.createElement('span');
      sub.className = 'sub';
      sub.textContent = [kinds[p.kind] || p.kind, p.kind === 'site' ? nameOf(p.road) : '', p.kind === 'site' ? nameOf(p.area) : ''].filter(Boolean).join(' · ');
      b.append(name, sub);
      b.addEventListener('click', () => pick(p._id));
      b.addEventListener('keydown', (e) => {
        if (e.key === 'ArrowDown') { e.preventDefault(); (li.nextElementSibling?.firstChild || b).focus(); }
        if (e.key === 'ArrowUp') { e.preventDefault(); (li.previousElementSibling?.firstChild || input).focus(); }
      });
      li.appendChild(b);
      return li;
    });
    if (!items.length) { const li = document.createElement('li'); li.className = 'muted'; li.textContent = T.noResults; items.push(li); }
    list.replaceChildren(...items);
    list.hidden = false;
  };
  input.addEventListener('input', render);
  input.addEventListener('keydown', (e) => {
    if (e.key === 'ArrowDown') { e.preventDefault(); list.querySelector('button')?.focus(); }
    if (e.key === 'Enter') { e.preventDefault(); const first = list.querySelector('button'); if (first) first.click(); }
    if (e.key === 'Escape') { input.value = ''; render(); }
  });
  return { render };
}

/** Wires the filters; onChange(filter) receives a MapLibre filter for the sites layer. */
export function setupFilters({ store, onChange }) {
  const type = document.getElementById('filter-type');
  const fresh = document.getElementById('filter-freshness');
  const fill = () => {
    const types = new Set();
    for (const f of store.features.values()) if (f.properties.kind === 'site' && f.properties.type) types.add(f.properties.type);
    const want = [...types].sort();
    const have = [...type.options].slice(1).map((o) => o.value);
    if (have.join() === want.join()) return;
    const cur = type.value;
    type.replaceChildren(new Option(T.all, ''), ...want.map((t) => new Option(t.replace(/Observed$/, ''), t)));
    type.value = want.includes(cur) ? cur : '';
  };
  fresh.replaceChildren(new Option(T.all, ''), ...['fresh', 'stale', 'offline', 'unknown'].map((s) => new Option(T[s], s)));
  const apply = () => {
    const parts = ['all'];
    if (type.value) parts.push(['==', ['get', 'type'], type.value]);
    if (fresh.value) parts.push(['==', ['get', 'freshness'], fresh.value]);
    onChange(parts.length > 1 ? parts : null, { type: type.value, freshness: fresh.value });
  };
  type.addEventListener('change', apply);
  fresh.addEventListener('change', apply);
  return { fill, apply };
}
