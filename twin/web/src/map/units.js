// Quantities as operators read them: a label in the page's language, the
// SI symbol of the profile's UCUM-style unit (Cel is °C, ug/m3 is µg/m³),
// ratios shown as percentages, and which points are internal (folded
// under "Dettagli tecnici"). Profiles carry no "internal" flag, so the
// list of internal points is kept here, in one place.

import { lang, num } from './i18n.js';
import { airBandName } from '../shared/i18n.js';

/** UCUM-ish codes of profiles and the twin, and the symbol shown. */
const SYMBOLS = {
  Cel: '°C', degC: '°C', ug_m3: 'µg/m³', 'ug/m3': 'µg/m³', 'mg/m3': 'mg/m³', '%': '%', 'dB(A)': 'dB(A)', dBA: 'dB(A)', dB: 'dB',
  '/h': 'veic/h', '1/h': 'veic/h', 'km/h': 'km/h', 'm/s': 'm/s', hPa: 'hPa', W: 'W', kW: 'kW', kWh: 'kWh', V: 'V', A: 'A', Hz: 'Hz',
  deg: '°', 'mm/h': 'mm/h', s: 's', min: 'min',
};

/** Quantities by attribute or point name: Italian and English labels; ratio: a 0..1 value shown in %. */
const QUANTITIES = {
  intensity: ['Flusso veicolare', 'Traffic flow'], averageVehicleSpeed: ['Velocità media', 'Mean speed'],
  occupancy: ['Occupazione', 'Occupancy', 'ratio'], congested: ['Congestionato', 'Congested'],
  no2: ['NO₂', 'NO₂'], o3: ['O₃', 'O₃'], pm10: ['PM10', 'PM10'], pm25: ['PM2,5', 'PM2.5'], so2: ['SO₂', 'SO₂'], co: ['CO', 'CO'],
  airQualityIndex: ['Indice qualità aria (EAQI)', 'Air quality index (EAQI)'], airQualityLevel: ['Qualità dell\'aria', 'Air quality'],
  relativeHumidity: ['Umidità relativa', 'Relative humidity', 'ratio'], humidity: ['Umidità relativa', 'Relative humidity'],
  atmosphericPressure: ['Pressione', 'Pressure'], pressure: ['Pressione', 'Pressure'],
  temperature: ['Temperatura', 'Temperature'], windSpeed: ['Vento', 'Wind speed'], windDirection: ['Direzione vento', 'Wind direction'],
  precipitation: ['Precipitazione', 'Precipitation'],
  LAeq: ['Rumore LAeq', 'Noise LAeq'], LAFmax: ['Rumore LAFmax', 'Noise LAFmax'], LAF: ['Rumore LAF', 'Noise LAF'],
  status: ['Stato posto', 'Spot status'], occupied: ['Occupato', 'Occupied'],
  power: ['Potenza', 'Power'], energy: ['Energia', 'Energy'],
};

/** Noise points are in dB(A) whatever the profile calls the unit. */
const NOISE = new Set(['LAeq', 'LAFmax', 'LAF']);

/**
 * Points that are the device's business, not the operator's: shown under
 * "Dettagli tecnici". Add a name here to fold it away everywhere.
 */
export const INTERNAL = new Set(['status_word', 'heater_on', 'serial_number', 'firmware_version', 'node_address', 'measurement_interval',
  'groups_green', 'plan', 'vehicles_today', 'frequency', 'voltage_l1', 'voltage_l2', 'voltage_l3', 'power_l1', 'power_l2', 'power_l3',
  'power_factor_l1', 'power_factor_l2', 'power_factor_l3', 'total_power_factor', 'total_energy', 'lamp_faults']);

/** Whether a point or attribute is internal (also per-lane values, which the site's totals sum up). */
export function isInternal(name) {
  return INTERNAL.has(name) || name.endsWith('_quality') || /^lane\d+_/.test(name);
}

/** The label of a quantity. */
export function label(name) {
  const q = QUANTITIES[name];
  return q ? q[lang === 'en' ? 1 : 0] : name.replace(/_/g, ' ');
}

/** The symbol of a unit code ('' for dimensionless). */
export function symbol(unit, name) {
  if (NOISE.has(name)) return 'dB(A)';
  if (!unit || unit === '1') return '';
  return SYMBOLS[unit] || unit;
}

/** Whether a value of name with unit is a ratio 0..1 to show in %. */
export function isRatio(name, unit) {
  const q = QUANTITIES[name];
  return !!(q && q[2] === 'ratio') && (unit === '1' || unit === '' || unit === undefined);
}

/** A value with its symbol: "84 %", "12,5 °C", "41 µg/m³", "sì". */
export function valueText(name, value, unit) {
  if (typeof value === 'number' && isRatio(name, unit)) return `${num(value * 100, 0)} %`;
  if (name === 'status' && typeof value === 'string') return { occupied: lang === 'en' ? 'occupied' : 'occupato', free: lang === 'en' ? 'free' : 'libero' }[value] || value;
  if (name === 'airQualityLevel' && typeof value === 'string') return airBandName(value, lang);
  const s = symbol(unit, name);
  const v = num(value);
  return s ? `${v} ${s}` : v;
}

/** The axis symbol of a history of name (a boolean's share of time is in %). */
export function axisUnit(name, unit, isBool) {
  if (isBool || isRatio(name, unit)) return '%';
  return symbol(unit, name);
}
