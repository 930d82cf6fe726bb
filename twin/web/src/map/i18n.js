// The map's words and its clock: Italian by default, English with
// ?lang=en; dates and times in the city's zone (GET /api/v1/config's
// timeZone when the server has it, else Europe/Rome), whatever zone the
// operator's browser is in. One locale for numbers and dates.

const WORDS = {
  it: {
    title: 'Ponte · mappa operatori', colourBy: 'Colora le aree per', loading: 'Caricamento…',
    live: 'In diretta', reconnecting: 'Riconnessione…', disconnected: 'Disconnesso, nuovo tentativo…', reloading: 'Ricarico…',
    gatewaysOffline: (n) => (n === 1 ? '1 gateway offline' : `${n} gateway offline`),
    entities: (n) => `${n} elementi`, lastChange: 'ultima modifica',
    justNow: 'adesso', secAgo: (s) => `${s} s fa`, minAgo: (m) => `${m} min fa`, hAgo: (h) => `${h} h fa`, dAgo: (d) => `${d} g fa`,
    future: 'nel futuro (orologio avanti)',
    yes: 'sì', no: 'no',
    area: 'Area', road: 'Strada', gateway: 'Gateway', type: 'Tipo', freshness: 'Stato', updated: 'Aggiornato', device: 'Dispositivo', id: 'ID',
    fresh: 'aggiornato', stale: 'in ritardo', offline: 'offline', unknown: 'mai aggiornato',
    values: 'Valori', technical: 'Dettagli tecnici', indicators: 'Indicatori',
    history6h: 'ultime 6 ore', noHistory: 'nessun dato nel periodo', historyUnavailable: 'storico non disponibile',
    shareTrue: 'quota di tempo', sensors: (n) => `${n} sensori`,
    fleet: { revoked: 'revocato', offline: 'offline', degraded: 'dispositivi in errore', ok: 'in linea' },
    gwStatus: 'Stato', gwState: 'Stato dichiarato', gwVersion: 'Versione', gwLastSeen: 'Ultimo contatto', gwBuffered: 'Letture in coda',
    gwOldest: 'Più vecchia non inviata', gwUp: 'Dispositivi attivi', gwBad: 'Dispositivi in errore', gwRevoked: 'Revocato',
    gwRevokedYes: 'sì: non può più pubblicare', none: 'nessuna',
    search: 'Cerca sito, strada, area o gateway', searchLabel: 'Cerca', noResults: 'Nessun risultato',
    filters: 'Filtri', filterType: 'Tipo', filterFreshness: 'Stato', all: 'tutti',
    attention: 'Da controllare', nothingWrong: 'Tutto in ordine', offlineGateways: 'Gateway offline', lastSeen: 'ultimo contatto',
    staleDevices: 'Siti in ritardo o offline', badDevices: 'Gateway con dispositivi in errore', openAlarms: 'Allarmi aperti',
    bannerOffline: (name, seen) => `Gateway ${name} offline${seen ? ' · ultimo contatto ' + seen : ''}`, dismiss: 'Chiudi',
    timeTravel: 'Viaggio nel tempo', backToLive: 'Torna in diretta', replay: 'Rivedi', window24h: 'ultime 24 ore', at: 'alle',
    pastView: (t) => `Passato · ${t}`, legendAreas: 'Aree', legendRoads: 'Strade', legendSites: 'Siti', legendGateways: 'Gateway (anello)',
    noData: 'nessun dato', flowing: 'scorrevole', congested: 'congestionata',
    ringOk: 'in linea, dispositivi attivi', ringDegraded: 'dispositivi in errore', ringRevoked: 'revocato', ringOffline: 'offline',
    tokenNeeded: 'Questa mappa richiede un token operatore.', tokenRefused: 'Token rifiutato: inserire un token operatore valido.',
    cluster: (n) => `${n} siti`,
  },
  en: {
    title: 'Ponte · operators\' map', colourBy: 'Colour areas by', loading: 'Loading…',
    live: 'Live', reconnecting: 'Reconnecting…', disconnected: 'Disconnected, retrying…', reloading: 'Reloading…',
    gatewaysOffline: (n) => (n === 1 ? '1 gateway offline' : `${n} gateways offline`),
    entities: (n) => `${n} entities`, lastChange: 'last change',
    justNow: 'just now', secAgo: (s) => `${s} s ago`, minAgo: (m) => `${m} min ago`, hAgo: (h) => `${h} h ago`, dAgo: (d) => `${d} d ago`,
    future: 'in the future (clock ahead)',
    yes: 'yes', no: 'no',
    area: 'Area', road: 'Road', gateway: 'Gateway', type: 'Type', freshness: 'State', updated: 'Updated', device: 'Device', id: 'ID',
    fresh: 'fresh', stale: 'stale', offline: 'offline', unknown: 'never updated',
    values: 'Values', technical: 'Technical details', indicators: 'Indicators',
    history6h: 'last 6 hours', noHistory: 'no data in this period', historyUnavailable: 'history unavailable',
    shareTrue: 'share of time', sensors: (n) => `${n} sensors`,
    fleet: { revoked: 'revoked', offline: 'offline', degraded: 'devices failing', ok: 'online' },
    gwStatus: 'Status', gwState: 'State', gwVersion: 'Version', gwLastSeen: 'Last seen', gwBuffered: 'Buffered readings',
    gwOldest: 'Oldest unsent', gwUp: 'Devices up', gwBad: 'Devices bad', gwRevoked: 'Revoked',
    gwRevokedYes: 'yes: it can no longer publish', none: 'none',
    search: 'Search site, road, area or gateway', searchLabel: 'Search', noResults: 'No results',
    filters: 'Filters', filterType: 'Type', filterFreshness: 'State', all: 'all',
    attention: 'Needs attention', nothingWrong: 'All well', offlineGateways: 'Offline gateways', lastSeen: 'last seen',
    staleDevices: 'Stale or offline sites', badDevices: 'Gateways with failing devices', openAlarms: 'Open alarms',
    bannerOffline: (name, seen) => `Gateway ${name} offline${seen ? ' · last seen ' + seen : ''}`, dismiss: 'Dismiss',
    timeTravel: 'Time travel', backToLive: 'Back to live', replay: 'Replay', window24h: 'last 24 hours', at: 'at',
    pastView: (t) => `Past · ${t}`, legendAreas: 'Areas', legendRoads: 'Roads', legendSites: 'Sites', legendGateways: 'Gateways (ring)',
    noData: 'no data', flowing: 'flowing', congested: 'congested',
    ringOk: 'online, devices up', ringDegraded: 'devices failing', ringRevoked: 'revoked', ringOffline: 'offline',
    tokenNeeded: 'This map needs an operator token.', tokenRefused: 'The token was refused; enter a valid operator token.',
    cluster: (n) => `${n} sites`,
  },
};

const params = new URLSearchParams(location.search + '&' + location.hash.replace(/^#/, ''));
/** The page's language: "it" unless ?lang=en. */
export const lang = params.get('lang') === 'en' ? 'en' : 'it';
/** The words of the page's language. */
export const T = WORDS[lang];
const locale = lang === 'en' ? 'en-GB' : 'it-IT';

let zone = 'Europe/Rome';
/** Sets the city's time zone (from /api/v1/config); an unknown zone is ignored. */
export function setTimeZone(z) {
  try { new Intl.DateTimeFormat(locale, { timeZone: z }); zone = z; } catch { /* keep the default */ }
}
/** The city's time zone. */
export function timeZone() { return zone; }

/** A date and time in the city's zone: "05/12/2026, 10:04:05". */
export function dateTime(t) {
  const d = new Date(t);
  if (Number.isNaN(d.getTime())) return String(t);
  return new Intl.DateTimeFormat(locale, { timeZone: zone, dateStyle: 'short', timeStyle: 'medium' }).format(d);
}

/** A time of day in the city's zone: "10:04". */
export function clock(t, seconds = false) {
  return new Intl.DateTimeFormat(locale, { timeZone: zone, hour: '2-digit', minute: '2-digit', second: seconds ? '2-digit' : undefined }).format(new Date(t));
}

/** How long before now time t was, in words. */
export function ago(t, now = Date.now()) {
  const s = Math.round((now - new Date(t).getTime()) / 1000);
  if (!Number.isFinite(s)) return '';
  if (s < -5) return T.future;
  if (s < 10) return T.justNow;
  if (s < 60) return T.secAgo(s);
  if (s < 3600) return T.minAgo(Math.floor(s / 60));
  if (s < 86400) return T.hAgo(Math.floor(s / 3600));
  return T.dAgo(Math.floor(s / 86400));
}

/** "2 min fa (05/12/2026, 10:04:05)", or '' when there is no time. */
export function when(t, now) {
  if (!t) return '';
  const d = new Date(t);
  return Number.isNaN(d.getTime()) ? String(t) : `${ago(d, now)} (${dateTime(d)})`;
}

/** A number in the page's locale with few significant digits. */
export function num(v, digits) {
  if (v === null || v === undefined) return '–';
  if (typeof v === 'boolean') return v ? T.yes : T.no;
  if (typeof v !== 'number') return String(v);
  const a = Math.abs(v);
  const d = digits !== undefined ? digits : a >= 100 ? 0 : a >= 10 ? 1 : 2;
  return new Intl.NumberFormat(locale, { maximumFractionDigits: d }).format(v);
}
