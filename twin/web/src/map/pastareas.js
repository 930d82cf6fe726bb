// The areas as they were: while the map shows a past moment, the areas
// are coloured from the snapshot's indicators (GET /api/v1/snapshot
// answers them, computed by the twin) with the page's own colouring (a
// Store of the area shapes holding those indicators), so the classes and
// colours follow the same rules as live.

import { Store } from './store.js';

/**
 * The area features of store coloured by a snapshot's indicators for the
 * indicator store shows, and the class breaks: {collection, classes}.
 */
export function areasAt(store, indicators) {
  const s = new Store();
  s.indicators = indicators;
  s.indicator = store.indicator;
  s.level = store.level;
  for (const f of store.features.values()) {
    if (f.properties.kind !== 'area') continue;
    const props = { ...f.properties };
    delete props.indicators; // live values carried on the feature: not the past
    s.put({ ...f, properties: props });
  }
  s.recolorAreas();
  return { collection: s.collection('areas'), classes: s.areaClasses };
}
