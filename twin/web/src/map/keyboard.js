// Picking features by keyboard. The map's canvas takes focus (Tab reaches
// it; a focus ring shows it); there "n" (or "]") steps to the next site or
// gateway in view and "p" (or "[") to the previous one, in the order of
// their names, with a ring drawn around it and its name announced through
// an aria-live region; Enter opens its popup, Escape closes the popup and
// brings the focus back to the map. MapLibre's own keys stay: arrows pan,
// + and - zoom. Tab is never captured, so the keyboard can always leave.

const WORDS = {
  it: {
    map: 'Mappa. Tasti: n e p scorrono i siti visibili, Invio apre i dettagli, Esc li chiude; frecce per spostarsi, + e - per lo zoom.',
    item: (name, i, n) => `${name}, ${i} di ${n}. Invio per i dettagli.`,
    none: 'Nessun sito visibile: spostare o allontanare la mappa.',
  },
  en: {
    map: 'Map. Keys: n and p step through the sites in view, Enter opens the details, Escape closes them; arrows pan, + and - zoom.',
    item: (name, i, n) => `${name}, ${i} of ${n}. Enter for details.`,
    none: 'No site in view: pan or zoom out.',
  },
};

// Layers whose features the keyboard steps through.
const LAYERS = ['gateways', 'sites', 'unclustered'];
const EMPTY = { type: 'FeatureCollection', features: [] };

/** Keyboard wires the map's canvas for picking features. */
export class Keyboard {
  constructor({ map, store, openPopup, closePopup, visible, lang }) {
    this.map = map;
    this.store = store;
    this.openPopup = openPopup;
    this.closePopup = closePopup;
    this.visible = visible; // (props) => whether the filters show the site
    this.words = WORDS[lang] || WORDS.it;
    this.current = null; // ID of the highlighted feature
    const canvas = map.getCanvas();
    canvas.setAttribute('tabindex', '0');
    canvas.setAttribute('aria-label', this.words.map);
    canvas.setAttribute('aria-describedby', 'map-announce');
    this.live = document.getElementById('map-announce');
    map.addSource('kbd', { type: 'geojson', data: EMPTY });
    map.addLayer({
      id: 'kbd-ring', type: 'circle', source: 'kbd',
      paint: { 'circle-radius': 15, 'circle-color': 'rgba(0,0,0,0)', 'circle-stroke-color': '#005a9c', 'circle-stroke-width': 4 },
    });
    canvas.addEventListener('keydown', (e) => this.onKey(e));
    // Escape in the popup (its close button has the focus) closes it.
    document.addEventListener('keydown', (e) => {
      if (e.key !== 'Escape' || !e.target.closest || !e.target.closest('.maplibregl-popup')) return;
      e.preventDefault();
      this.closePopup();
      canvas.focus();
    });
  }

  /** The sites and gateways drawn in view, in the order of their names (then IDs), once each. */
  inView() {
    const layers = LAYERS.filter((l) => this.map.getLayer(l));
    const seen = new Set();
    const out = [];
    for (const f of this.map.queryRenderedFeatures({ layers })) {
      const id = String(f.properties._id);
      if (seen.has(id)) continue;
      seen.add(id);
      const g = this.store.features.get(id);
      if (!g || (g.properties.kind === 'site' && !this.visible(g.properties))) continue;
      out.push(g);
    }
    const name = (f) => String(f.properties.name || f.properties._id);
    return out.sort((a, b) => name(a).localeCompare(name(b)) || a.properties._id.localeCompare(b.properties._id));
  }

  onKey(e) {
    if (e.altKey || e.ctrlKey || e.metaKey) return;
    const step = { n: 1, ']': 1, p: -1, '[': -1 }[e.key];
    if (step) {
      e.preventDefault();
      this.step(step);
    } else if (e.key === 'Enter' && this.current) {
      e.preventDefault();
      this.openPopup(this.current);
    } else if (e.key === 'Escape') {
      if (this.closePopup()) e.preventDefault();
    }
  }

  /** Moves the highlight by step (1 next, -1 previous) among the features in view, wrapping round. */
  step(step) {
    const list = this.inView();
    if (!list.length) {
      this.highlight(null);
      this.announce(this.words.none);
      return;
    }
    let i = list.findIndex((f) => f.properties._id === this.current);
    i = i < 0 ? (step > 0 ? 0 : list.length - 1) : (i + step + list.length) % list.length;
    const f = list[i];
    this.highlight(f);
    this.announce(this.words.item(f.properties.name || f.properties._id, i + 1, list.length));
  }

  highlight(f) {
    this.current = f ? f.properties._id : null;
    this.map.getSource('kbd').setData(f ? { type: 'FeatureCollection', features: [{ type: 'Feature', geometry: f.geometry, properties: {} }] } : EMPTY);
  }

  announce(text) {
    if (this.live) this.live.textContent = text;
  }
}
