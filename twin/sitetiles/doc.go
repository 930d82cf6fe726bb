// Package sitetiles draws the twin's sites and gateways as Mapbox Vector
// Tiles for the operators' map (issue 17: 100,000 sites).
//
// The map used to load every entity as GeoJSON and cut and cluster it in
// the browser's worker: at 100,000 sites that was a 55 MB answer and
// about 19 s of geojson-vt and supercluster before the first paint
// (BenchmarkMapChange). A tile holds only what the map's layers read of a
// site (its ID, kind, FIWARE type, freshness and, for a gateway, its fleet
// state); colours are decided by the page from those, so the palette
// stays in one place (twin/web/src/shared/ramp.js). Below ClusterMaxZoom
// the sites are gathered per cell of a grid (CellPixels across) into
// clusters that count them by freshness, as the page's clusters did; a
// cell holding one site draws that site. Gateways are never clustered.
// From ClusterMaxZoom each site is drawn on its own unless more than
// Crowded share its cell: a crowded cell is a cluster too, so that a
// frame never draws far more features than the screen can show apart.
// A cluster's "_id" is CellID: the page paints a live change of one of
// its sites over it through feature state (its worst state's colour).
//
// Live changes are not in the tiles: the page paints them over the tiles
// with MapLibre feature state (promoteId "_id") from the SSE stream and
// asks for fresh tiles only for what feature state cannot say (new and
// removed sites, cluster counts).
package sitetiles
