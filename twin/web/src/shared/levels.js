// Area levels (twin/levels.go): the whole city, the municipalities
// (comuni) and the districts a city draws inside a municipality
// (Firenze's quartieri, Bari's municipi). Both pages offer a picker of the
// levels the configuration has (hidden when it has one), and keep the
// choice in the URL (?level=), so that a link or an embed fixes it.

/** Levels from the coarsest to the finest, as the API orders them. */
export const LEVELS = ['city', 'municipality', 'district'];

const LABELS = {
  it: { city: 'Città', municipality: 'Comuni', district: 'Quartieri/Municipi', picker: 'Livello' },
  en: { city: 'City', municipality: 'Municipalities', district: 'Districts', picker: 'Level' },
};

/** The label of a level (or of the picker itself, 'picker') in lang. */
export function levelLabel(level, lang) {
  return (LABELS[lang] || LABELS.it)[level] || level;
}

/** An area's level: the indicators' and properties' "level", municipality when unsaid (an API before levels). */
export function levelOf(x) {
  if (!x) return 'municipality';
  let l = x.level;
  if (l && typeof l === 'object') l = l.value; // an entity attribute {value: ...}
  return LEVELS.includes(l) ? l : 'municipality';
}

/** The levels present among xs (areas), coarsest first. */
export function levelsPresent(xs) {
  const seen = new Set(xs.map(levelOf));
  return LEVELS.filter((l) => seen.has(l));
}

/**
 * The level to show of those present: the URL's ?level= if present,
 * else the municipalities, else the finest level (the API's default).
 */
export function chooseLevel(present, asked) {
  if (asked && present.includes(asked)) return asked;
  if (present.length === 0 || present.includes('municipality')) return 'municipality';
  return present[present.length - 1];
}

/** The level the URL asks for ('' if none): ?level= in the query or the fragment. */
export function levelInURL(loc = window.location) {
  const q = new URLSearchParams(loc.search);
  const h = new URLSearchParams(loc.hash.replace(/^#/, ''));
  return q.get('level') || h.get('level') || '';
}

/** Writes level into the URL's query (the fragment and other parameters kept), without reloading. */
export function keepLevelInURL(level, loc = window.location) {
  const q = new URLSearchParams(loc.search);
  q.set('level', level);
  history.replaceState(history.state, '', `${loc.pathname}?${q}${loc.hash}`);
}

/**
 * Fills select with the levels present, in lang, selects current and
 * calls onChange(level) when the reader picks another (the URL follows).
 * The picker's wrapper (select.closest('.level-picker') or the select)
 * is hidden when there is a single level.
 */
export function setupLevelPicker(select, present, current, lang, onChange) {
  const box = select.closest('.level-picker') || select;
  box.hidden = present.length < 2;
  const have = [...select.options].map((o) => o.value).join();
  if (have !== present.join()) select.replaceChildren(...present.map((l) => new Option(levelLabel(l, lang), l)));
  select.value = current;
  if (!select.dataset.wired) {
    select.dataset.wired = '1';
    select.addEventListener('change', () => {
      keepLevelInURL(select.value);
      onChange(select.value);
    });
  }
}
