// Colour ramps and value formatting shared by the map and the indicators
// page. The sequential ramp is cividis-like (readable with every common
// colour-vision deficiency); the categorical colours are Okabe-Ito.

/** Sequential ramp, low to high. */
export const RAMP = ['#fde725', '#7ad151', '#22a884', '#2a788e', '#414487'];

/** Colour for areas or features with no value. */
export const NO_DATA = '#d9d9d9';

/** Freshness colours of sites and gateways (Okabe-Ito based). */
export const FRESHNESS = {
  fresh: '#009e73',
  stale: '#e69f00',
  offline: '#595959',
  unknown: '#c8c8c8',
};

/**
 * Ring colours of gateways by their fleet state (the fill stays their
 * freshness): revoked credentials, devices failing, all well. Offline
 * gateways are told by their fill (freshness offline) and a grey ring.
 */
export const FLEET = { revoked: '#cc79a7', degraded: '#d55e00', offline: '#595959', ok: '#1a1a1a' };

/** Road colours by congestion. */
export const CONGESTION = { congested: '#d55e00', free: '#0072b2', unknown: '#9e9e9e' };

/**
 * Class breaks for values: equal intervals between the smallest and largest
 * finite value, one class per ramp colour.
 * @param {number[]} values
 * @returns {{min:number,max:number,breaks:number[]}|null}
 */
export function classes(values) {
  const vs = values.filter((v) => typeof v === 'number' && Number.isFinite(v));
  if (vs.length === 0) return null;
  const min = Math.min(...vs);
  const max = Math.max(...vs);
  const n = RAMP.length;
  const breaks = [];
  for (let i = 1; i < n; i++) breaks.push(min + ((max - min) * i) / n);
  return { min, max, breaks };
}

/**
 * The ramp colour of value v under classes c (NO_DATA for no value).
 * @param {number|null|undefined} v
 * @param {{min:number,max:number,breaks:number[]}|null} c
 */
export function rampColor(v, c) {
  if (c == null || typeof v !== 'number' || !Number.isFinite(v)) return NO_DATA;
  if (c.max === c.min) return RAMP[Math.floor(RAMP.length / 2)];
  let i = 0;
  while (i < c.breaks.length && v >= c.breaks[i]) i++;
  return RAMP[i];
}

/** Formats a number for people: few significant digits, locale grouping. */
export function fmt(v) {
  if (v === null || v === undefined) return '–';
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  if (typeof v !== 'number') return String(v);
  const a = Math.abs(v);
  const digits = a >= 100 ? 0 : a >= 10 ? 1 : 2;
  return new Intl.NumberFormat('en-GB', { maximumFractionDigits: digits }).format(v);
}

/** Indicator names by language (the twin's own labels, twin/indicators.go). */
const INDICATOR_NAMES = {
  en: {
    traffic_intensity: 'Traffic intensity',
    congestion_share: 'Congested road share',
    air_quality_band_worst: 'Air quality (worst band)',
    air_quality_band_mean: 'Air quality (mean band)',
    noise_laeq_mean: 'Mean noise level',
    parking_occupancy: 'Parking occupancy',
    lighting_energy: 'Street-lighting energy',
    lighting_power: 'Street-lighting power',
  },
  it: {
    traffic_intensity: 'Intensità del traffico',
    congestion_share: 'Contatori in congestione',
    air_quality_band_worst: "Qualità dell'aria (stazione peggiore)",
    air_quality_band_mean: "Qualità dell'aria (media)",
    noise_laeq_mean: 'Rumore (LAeq)',
    parking_occupancy: 'Occupazione dei parcheggi',
    lighting_energy: "Energia dell'illuminazione pubblica",
    lighting_power: "Potenza dell'illuminazione pubblica",
  },
};

/** Human label for an indicator key in lang ('en' or 'it'): known names, else the key in words. */
export function indicatorLabel(name, lang = 'en') {
  const known = INDICATOR_NAMES[lang] || INDICATOR_NAMES.en;
  if (known[name]) return known[name];
  const s = String(name).replace(/[_-]+/g, ' ').trim();
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** A unit as shown after a value: UCUM's dimensionless "1" shows as nothing. */
export function unitText(unit) {
  return !unit || unit === '1' ? '' : ' ' + unit;
}
