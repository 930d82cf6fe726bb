// The page's copy of the twin: features by ID, split into the map's three
// sources, each carrying the colour the map paints it with in the
// "_color" property. The map's layers paint ['get', '_color'], so the
// colour functions here are the only place colours are decided.

import { CONGESTION, FLEET, FRESHNESS, classes, rampColor } from '../shared/ramp.js';
import { levelOf } from '../shared/levels.js';

/** The map source a feature of a kind belongs to. */
export function sourceOf(kind) {
  if (kind === 'area') return 'areas';
  if (kind === 'road') return 'roads';
  return 'sites'; // sites and gateways
}

/** Colour of a site or gateway: its freshness. */
export function freshnessColor(props) {
  return FRESHNESS[props.freshness] || FRESHNESS.unknown;
}

/** The value of an attribute of a feature's properties (undefined if absent). */
export function attrValue(props, name) {
  let attrs = props.attrs;
  if (typeof attrs === 'string') { try { attrs = JSON.parse(attrs); } catch { attrs = null; } }
  return attrs && attrs[name] ? attrs[name].value : undefined;
}

/**
 * A gateway's fleet state, worst first: revoked (its credentials are),
 * offline (its last will stands), degraded (devices failing), ok.
 */
export function fleetState(props) {
  if (attrValue(props, 'revoked') === true) return 'revoked';
  if (props.freshness === 'offline' || attrValue(props, 'deviceState') === 'offline') return 'offline';
  if (attrValue(props, 'devicesBad') > 0) return 'degraded';
  return 'ok';
}

/** Colour of a road: congested (attrs.congested.value, or a top-level congested property). */
export function roadColor(props) {
  let c = props.attrs && props.attrs.congested ? props.attrs.congested.value : undefined;
  if (c === undefined) c = props.congested;
  if (c === true || c === 1 || c === 'true') return CONGESTION.congested;
  if (c === false || c === 0 || c === 'false') return CONGESTION.free;
  return CONGESTION.unknown;
}

/**
 * The copy of a feature handed to the map's sources: for sites and
 * gateways only what their layers, filters and clusters read (the popup,
 * the labels and the search read the store). A site's attributes, a few
 * hundred bytes of JSON, were copied to the map's worker, cut into its
 * tiles and decoded again for every tile the map loaded: at 100,000
 * sites that was most of the page's time (BenchmarkMapChange's profile).
 * Areas and roads, a few hundred, are handed whole.
 */
export function drawn(f) {
  const p = f.properties;
  if (p.kind !== 'site' && p.kind !== 'gateway') return f;
  const q = { _id: p._id, kind: p.kind, type: p.type, freshness: p.freshness, _color: p._color };
  if (p._ring) q._ring = p._ring;
  return { type: 'Feature', id: f.id, geometry: f.geometry, properties: q };
}

/** Store holds the features and the indicators the page shows. */
export class Store {
  constructor() {
    /** @type {Map<string, object>} */
    this.features = new Map();
    this.indicators = null; // twin.Indicators JSON
    this.indicator = ''; // the indicator areas are coloured by
    this.areaClasses = null;
    this.level = 'municipality'; // the area level shown (shared/levels.js)
  }

  /**
   * Takes an indicators event of the stream. After its first, the stream
   * sends each indicator's name, value, sensors and updatedAt only: the
   * unit, window and definition, which never change, are kept from the
   * indicators held (by indicator name).
   */
  setIndicators(next) {
    const defs = new Map();
    const learn = (i) => { if (i.definition !== undefined) defs.set(i.name, i); };
    for (const src of [this.indicators, next]) {
      if (!src) continue;
      (src.city || []).forEach(learn);
      for (const a of src.areas || []) (a.indicators || []).forEach(learn);
    }
    const fill = (i) => {
      const d = defs.get(i.name);
      return i.definition !== undefined || !d ? i : { ...i, unit: d.unit, window: d.window, definition: d.definition };
    };
    this.indicators = {
      ...next,
      city: (next.city || []).map(fill),
      areas: (next.areas || []).map((a) => ({ ...a, indicators: (a.indicators || []).map(fill) })),
    };
  }

  /** Replaces everything (or the features of kinds) with a FeatureCollection. */
  load(fc, kinds = null) {
    if (!kinds) this.features.clear();
    else for (const [id, f] of this.features) if (kinds.includes(f.properties.kind)) this.features.delete(id);
    for (const f of fc.features || []) this.put(f);
    this.recolorAreas();
  }

  /** Adds or replaces one feature; returns the stored copy. */
  put(f) {
    const props = { ...(f.properties || {}) };
    props._id = String(f.id);
    if (props.kind === 'area') {
      let attrs = props.attrs;
      if (typeof attrs === 'string') { try { attrs = JSON.parse(attrs); } catch { attrs = null; } }
      props._level = levelOf(attrs);
    }
    const g = { type: 'Feature', id: f.id, geometry: f.geometry, properties: props };
    this.features.set(props._id, g);
    this.color(g);
    return g;
  }

  /** Removes one feature; returns the removed copy (undefined if unknown). */
  remove(id) {
    const f = this.features.get(String(id));
    this.features.delete(String(id));
    return f;
  }

  /** Area values of the chosen indicator, by area ID, for the areas of the level shown. */
  areaValues() {
    const out = new Map();
    if (this.indicators && Array.isArray(this.indicators.areas)) {
      for (const a of this.indicators.areas) {
        if (levelOf(a) !== this.level) continue;
        const ind = (a.indicators || []).find((i) => i.name === this.indicator);
        if (ind) out.set(a.id, ind.value);
      }
    }
    // Indicators carried on area features (properties.indicators) fill gaps.
    for (const f of this.features.values()) {
      if (f.properties.kind !== 'area' || f.properties._level !== this.level || out.has(f.properties._id)) continue;
      const inds = f.properties.indicators;
      if (inds && typeof inds[this.indicator] === 'number') out.set(f.properties._id, inds[this.indicator]);
    }
    return out;
  }

  /** Recomputes the class breaks and the colour of every area. */
  recolorAreas() {
    const values = this.areaValues();
    this.areaClasses = classes([...values.values()]);
    for (const f of this.features.values()) {
      if (f.properties.kind === 'area') {
        f.properties._value = values.has(f.properties._id) ? values.get(f.properties._id) : null;
        f.properties._color = rampColor(f.properties._value, this.areaClasses);
      }
    }
  }

  /** Sets a feature's _color from its kind. */
  color(f) {
    const p = f.properties;
    if (p.kind === 'area') {
      const v = this.areaValues().get(p._id);
      p._value = v === undefined ? null : v;
      p._color = rampColor(p._value, this.areaClasses);
    } else if (p.kind === 'road') {
      p._color = roadColor(p);
    } else {
      p._color = freshnessColor(p);
      if (p.kind === 'gateway') {
        p._fleet = fleetState(p);
        p._ring = FLEET[p._fleet];
      }
    }
  }

  /** The FeatureCollection of one map source. */
  collection(source) {
    const features = [];
    for (const f of this.features.values()) if (sourceOf(f.properties.kind) === source) features.push(f);
    return { type: 'FeatureCollection', features };
  }

  /** The area features of the level shown. */
  areasShown() {
    const out = [];
    for (const f of this.features.values()) if (f.properties.kind === 'area' && f.properties._level === this.level) out.push(f);
    return out;
  }

  /** Names of every indicator, city ones first. */
  indicatorNames() {
    const names = [];
    const add = (n) => { if (!names.includes(n)) names.push(n); };
    if (this.indicators) {
      for (const i of this.indicators.city || []) add(i.name);
      for (const a of this.indicators.areas || []) for (const i of a.indicators || []) add(i.name);
    }
    return names;
  }

  /** The unit of an indicator (from the first place it appears). */
  indicatorUnit(name) {
    if (!this.indicators) return '';
    for (const i of this.indicators.city || []) if (i.name === name) return i.unit || '';
    for (const a of this.indicators.areas || []) for (const i of a.indicators || []) if (i.name === name) return i.unit || '';
    return '';
  }
}
