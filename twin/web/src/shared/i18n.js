// Italian and English strings of the public pages and the formatting of
// numbers and dates in one locale and one time zone (the city's, from
// GET /api/v1/config; Europe/Rome by default), through Intl. Italian is
// the default language. The indicators' own labels and definitions come
// from the API (twin/definitions.go), in the language asked for; what is
// here is the page's chrome and the display of units and values.

/** Languages the pages are written in, the default first. */
export const LANGUAGES = ['it', 'en'];
export const DEFAULT_LANGUAGE = 'it';
export const DEFAULT_TIME_ZONE = 'Europe/Rome';

/** Intl locale of each language. */
const LOCALES = { it: 'it-IT', en: 'en-GB' };

const STRINGS = {
  it: {
    title: 'Indicatori urbani',
    intro: 'Indicatori in tempo reale per area dai sensori stradali della città: traffico, qualità dell’aria, rumore, parcheggi ed energia dell’illuminazione pubblica.',
    skip: 'Vai alle aree',
    loading: 'Caricamento degli indicatori…',
    city: 'Tutta la città',
    map: 'Mappa delle aree',
    mapIndicator: 'Indicatore mostrato sulla mappa',
    mapAria: 'Mappa delle aree colorate per {ind}',
    legend: 'Legenda',
    areas: 'Aree',
    noData: 'nessun dato',
    sensorsOne: '1 sensore',
    sensorsMany: '{n} sensori',
    latest: 'ultimo valore',
    lastWindow: 'ultimi {w}',
    noSensors: '{n} comuni senza sensori',
    noSensorsOne: '1 comune senza sensori',
    noSensorsAreas: '{n} aree senza sensori',
    noSensorsAreasOne: '1 area senza sensori',
    glossary: 'Come si calcolano gli indicatori',
    unit: 'unità',
    updated: 'Dati aggiornati al {t}',
    notYet: 'Nessun dato ancora ricevuto',
    source: 'Fonte: {attribution}.',
    licenceWord: 'Licenza dei dati:',
    without: 'Nessun sensore per gli altri {n} indicatori.',
    withoutOne: 'Nessun sensore per un altro indicatore.',
    downloads: 'Dati aperti:',
    status: '{n} aree con sensori, {m} senza.',
    error: 'Impossibile caricare gli indicatori: {e}. Nuovo tentativo tra un minuto.',
    caption: 'Indicatori di {name}',
    trend: 'Andamento di {ind}',
    day: '24 ore',
    week: '7 giorni',
    chartAria: '{ind} a {area}, {span}: da {min} a {max}',
    noHistory: 'Nessuno storico in questo periodo',
    otherLanguage: 'English',
    bands: ['buona', 'discreta', 'moderata', 'scadente', 'molto scadente', 'estremamente scadente'],
    units: { '1/h': 'veicoli/h', dB: 'dB(A)' },
  },
  en: {
    title: 'Urban indicators',
    intro: 'Live indicators per area from the city’s roadside sensors: traffic, air quality, noise, parking and street-lighting energy.',
    skip: 'Skip to the areas',
    loading: 'Loading the indicators…',
    city: 'Whole city',
    map: 'Map of the areas',
    mapIndicator: 'Indicator shown on the map',
    mapAria: 'Map of the areas coloured by {ind}',
    legend: 'Legend',
    areas: 'Areas',
    noData: 'no data',
    sensorsOne: '1 sensor',
    sensorsMany: '{n} sensors',
    latest: 'latest',
    lastWindow: 'last {w}',
    noSensors: '{n} municipalities without sensors',
    noSensorsOne: '1 municipality without sensors',
    noSensorsAreas: '{n} areas without sensors',
    noSensorsAreasOne: '1 area without sensors',
    glossary: 'How the indicators are computed',
    unit: 'unit',
    updated: 'Data as of {t}',
    notYet: 'No data received yet',
    source: 'Source: {attribution}.',
    licenceWord: 'Data licence:',
    without: 'No sensors for the other {n} indicators.',
    withoutOne: 'No sensors for one other indicator.',
    downloads: 'Open data:',
    status: '{n} areas with sensors, {m} without.',
    error: 'Could not load the indicators: {e}. Retrying in a minute.',
    caption: 'Indicators of {name}',
    trend: 'Trend of {ind}',
    day: '24 hours',
    week: '7 days',
    chartAria: '{ind} in {area}, {span}: from {min} to {max}',
    noHistory: 'No history in this period',
    otherLanguage: 'Italiano',
    bands: ['good', 'fair', 'moderate', 'poor', 'very poor', 'extremely poor'],
    units: { '1/h': 'vehicles/h', dB: 'dB(A)' },
  },
};

/** Indicators whose values are shares (0..1), shown as percentages. */
const SHARES = new Set(['congestion_share', 'parking_occupancy']);

/**
 * The name of a European Air Quality Index band in lang, from the twin's
 * English name (its airQualityLevel: "very poor" is "molto scadente").
 * @param {string} name
 * @param {string} lang
 */
export function airBandName(name, lang) {
  const i = STRINGS.en.bands.indexOf(name);
  return i < 0 ? name : STRINGS[pickLanguage(lang)].bands[i];
}

/**
 * The language to use: a supported lang, else the default.
 * @param {string|null|undefined} lang
 */
export function pickLanguage(lang) {
  const l = String(lang || '').toLowerCase().split('-')[0];
  return LANGUAGES.includes(l) ? l : DEFAULT_LANGUAGE;
}

/**
 * A translator and formatter for one language and time zone.
 * @param {string} lang 'it' or 'en'
 * @param {string} [timeZone] an IANA zone (Europe/Rome when absent or unknown)
 */
export function makeI18n(lang, timeZone) {
  lang = pickLanguage(lang);
  const locale = LOCALES[lang];
  let zone = timeZone || DEFAULT_TIME_ZONE;
  try { new Intl.DateTimeFormat(locale, { timeZone: zone }); } catch { zone = DEFAULT_TIME_ZONE; }
  const s = STRINGS[lang];
  const nf = new Intl.NumberFormat(locale, { maximumFractionDigits: 1 });
  const nf2 = new Intl.NumberFormat(locale, { maximumSignificantDigits: 3 });
  const pf = new Intl.NumberFormat(locale, { style: 'percent', maximumFractionDigits: 0 });
  const dtf = new Intl.DateTimeFormat(locale, { timeZone: zone, dateStyle: 'medium', timeStyle: 'short' });
  const zf = new Intl.DateTimeFormat(locale, { timeZone: zone, timeZoneName: 'short', hour: '2-digit' });
  const hf = new Intl.DateTimeFormat(locale, { timeZone: zone, hour: '2-digit', minute: '2-digit' });
  const df = new Intl.DateTimeFormat(locale, { timeZone: zone, day: 'numeric', month: 'short' });

  /** The string of key with {name} replaced from vars. */
  function t(key, vars) {
    const v = s[key];
    if (typeof v !== 'string') return key;
    return v.replace(/\{(\w+)\}/g, (m, k) => (vars && k in vars ? String(vars[k]) : m));
  }

  /** A number in the locale (comma decimals in Italian). */
  function number(v) {
    if (typeof v !== 'number' || !Number.isFinite(v)) return '';
    return Math.abs(v) >= 100 || Number.isInteger(v) ? nf.format(v) : nf2.format(v);
  }

  /** The unit as people read it, with its leading space ('' for none). */
  function unit(u) {
    if (!u || u === '1') return '';
    return ' ' + (s.units[u] || u);
  }

  /** An indicator's value with its unit, or "no data". */
  function value(ind) {
    const v = ind ? ind.value : null;
    if (typeof v !== 'number' || !Number.isFinite(v)) return s.noData;
    if (SHARES.has(ind.name)) return pf.format(v);
    if (ind.name === 'air_quality_band_worst' && v >= 1 && v <= 6) return `${nf.format(v)} · ${s.bands[Math.round(v) - 1]}`;
    return number(v) + unit(ind.unit);
  }

  /** A plain value of an indicator named name (legends, charts). */
  function plain(name, u, v) {
    if (SHARES.has(name)) return pf.format(v);
    return number(v) + unit(u);
  }

  /** "3 sensors" and the window. */
  function basis(ind) {
    const n = ind.sensors || 0;
    const sensors = n === 1 ? s.sensorsOne : t('sensorsMany', { n });
    const w = !ind.window || ind.window === 'latest' ? s.latest : t('lastWindow', { w: ind.window });
    return `${sensors} · ${w}`;
  }

  /** A date and time in the city's zone, with the zone's name. */
  function dateTime(d) {
    const date = d instanceof Date ? d : new Date(d);
    if (Number.isNaN(date.getTime())) return '';
    const z = zf.formatToParts(date).find((p) => p.type === 'timeZoneName');
    return dtf.format(date) + (z ? ` ${z.value}` : '');
  }

  /** An hour (charts of a day) or a day (charts of a week). */
  function tick(d, week) {
    return (week ? df : hf).format(d instanceof Date ? d : new Date(d));
  }

  return { lang, locale, timeZone: zone, t, number, unit, value, plain, basis, dateTime, tick };
}
