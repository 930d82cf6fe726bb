// Labels drawn as HTML over the map: MapLibre's own text needs glyphs
// from a server, and the map must read without internet. Area names when
// zoomed out, road names from street zoom, site names at street zoom
// (SITE_LABEL_ZOOM), and the clusters' counts by state below
// CLUSTER_MAX_ZOOM; only what is in view, at most MAX_LABELS.

import { FRESHNESS } from '../shared/ramp.js';
import { T } from './i18n.js';

export const SITE_LABEL_ZOOM = 15;
export const ROAD_LABEL_ZOOM = 13;
export const CLUSTER_MAX_ZOOM = 12;
export const AREA_LABEL_MAX_ZOOM = 17;
const MAX_LABELS = 300;

/** Representative point of a geometry: the middle vertex of a line, the centre of a polygon's bounds. */
export function anchor(g) {
  if (!g) return null;
  if (g.type === 'Point') return g.coordinates;
  if (g.type === 'LineString') return g.coordinates[Math.floor(g.coordinates.length / 2)];
  if (g.type === 'MultiLineString') return anchor({ type: 'LineString', coordinates: g.coordinates[0] });
  const rings = g.type === 'Polygon' ? [g.coordinates[0]] : g.type === 'MultiPolygon' ? g.coordinates.map((p) => p[0]) : [];
  let best = null;
  let bestN = -1;
  for (const r of rings) if (r.length > bestN) { best = r; bestN = r.length; }
  if (!best) return null;
  let [w, s, e, n] = [Infinity, Infinity, -Infinity, -Infinity];
  for (const [x, y] of best) { w = Math.min(w, x); e = Math.max(e, x); s = Math.min(s, y); n = Math.max(n, y); }
  return [(w + e) / 2, (s + n) / 2];
}

/** Whether point [x, y] lies inside a Polygon or MultiPolygon (even-odd over every ring). */
export function contains(g, [x, y]) {
  if (!g) return false;
  const polys = g.type === 'Polygon' ? [g.coordinates] : g.type === 'MultiPolygon' ? g.coordinates : [];
  let inside = false;
  for (const poly of polys) {
    for (const ring of poly) {
      for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
        const [xi, yi] = ring[i];
        const [xj, yj] = ring[j];
        if ((yi > y) !== (yj > y) && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
      }
    }
  }
  return inside;
}

/** Labels keeps the label layer in step with the map. */
export class Labels {
  constructor(map, store, { sitesVisible, areaShown = () => true, clusterCounts = () => null }) {
    this.map = map;
    this.store = store;
    this.sitesVisible = sitesVisible; // (props) => whether the filters show the site
    this.areaShown = areaShown; // (props) => whether the area's level is the one shown
    this.clusterCounts = clusterCounts; // (props) => a cluster's live counts, null for the tile's
    this.drawn = ''; // the labels shown, as HTML
    this.layer = document.createElement('div');
    this.layer.className = 'labels';
    this.layer.setAttribute('aria-hidden', 'true');
    map.getContainer().appendChild(this.layer);
    this.pending = 0;
    map.on('move', () => this.schedule());
    map.on('idle', () => this.schedule());
  }

  schedule() {
    if (this.pending) return;
    this.pending = requestAnimationFrame(() => { this.pending = 0; this.draw(); });
  }

  draw() {
    const map = this.map;
    const z = map.getZoom();
    const b = map.getBounds();
    const w = map.getContainer().clientWidth;
    const h = map.getContainer().clientHeight;
    const out = [];
    const c = map.getCenter();
    const centre = [c.lng, c.lat];
    let inView = null;
    const add = (lnglat, text, cls, color) => {
      if (out.length >= MAX_LABELS || !lnglat) return;
      const p = map.project(lnglat);
      if (p.x < -50 || p.y < -20 || p.x > w + 50 || p.y > h + 20) return;
      const d = document.createElement('div');
      d.className = 'label ' + cls;
      d.textContent = text;
      d.style.transform = `translate(${p.x.toFixed(0)}px, ${p.y.toFixed(0)}px)`;
      if (color) d.style.setProperty('--c', color);
      out.push(d);
    };
    for (const f of this.store.features.values()) {
      const p = f.properties;
      if (p.kind === 'area' && z < AREA_LABEL_MAX_ZOOM) {
        if (!this.areaShown(p)) continue;
        const a = f._anchor || (f._anchor = anchor(f.geometry));
        if (a && b.contains(a)) add(a, p.name, 'area');
        else if (!inView && contains(f.geometry, centre)) inView = f; // zoomed in on it: its label stays in view
      } else if (p.kind === 'road' && z >= ROAD_LABEL_ZOOM) {
        const a = anchor(f.geometry);
        if (a && b.contains(a)) add(a, p.name, 'road');
      } else if ((p.kind === 'site' || p.kind === 'gateway') && z >= SITE_LABEL_ZOOM) {
        const a = f.geometry && f.geometry.coordinates;
        if (a && b.contains(a) && (p.kind === 'gateway' || this.sitesVisible(p))) add(a, p.name, p.kind);
      }
    }
    if (inView) {
      // The area the view lies in, whose own label point is off screen,
      // is named at the top of the view, so street zoom still says where.
      add(map.unproject([w / 2, 24]).toArray(), inView.properties.name, 'area');
    }
    if (map.getLayer('clusters')) {
      for (const c of map.queryRenderedFeatures({ layers: ['clusters'] })) {
        const q = this.clusterCounts(c.properties) || c.properties;
        const box = document.createElement('div');
        box.className = 'label cluster';
        const p = map.project(c.geometry.coordinates);
        box.style.transform = `translate(${p.x.toFixed(0)}px, ${p.y.toFixed(0)}px)`;
        box.title = T.cluster(q.point_count);
        const n = document.createElement('b');
        n.textContent = String(q.point_count);
        box.appendChild(n);
        // By state too where the clusters are apart (zoomed out); where
        // sites crowd the clusters touch, and only their count fits.
        for (const s of z < CLUSTER_MAX_ZOOM ? ['fresh', 'stale', 'offline', 'unknown'] : []) {
          if (!q[s]) continue;
          const part = document.createElement('span');
          part.className = 'part';
          part.style.setProperty('--c', FRESHNESS[s]);
          part.textContent = String(q[s]);
          part.title = T[s];
          box.appendChild(part);
        }
        out.push(box);
      }
    }
    // Drawn again on every idle map (each live change): the page's layout
    // and style are only redone when a label changed.
    const html = out.map((d) => d.outerHTML).join('');
    if (html === this.drawn) return;
    this.drawn = html;
    this.layer.replaceChildren(...out);
  }
}
