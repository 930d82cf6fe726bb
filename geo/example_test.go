package geo_test

import (
	"fmt"
	"log"
	"math"

	"github.com/paulmach/orb"
	"github.com/ponte-city/ponte/geo"
)

// loadMetro loads the shipped municipalities of both metropolitan areas.
func loadMetro() *geo.Areas {
	opts := geo.LoadOptions{IDProperty: "com_istat_code"}
	fi, err := geo.LoadLayer("data/firenze-metro-municipalities.geojson", geo.KindAreas, opts)
	if err != nil {
		log.Fatal(err)
	}
	ba, err := geo.LoadLayer("data/bari-metro-municipalities.geojson", geo.KindAreas, opts)
	if err != nil {
		log.Fatal(err)
	}
	metro, err := geo.Merge("metro", fi, ba)
	if err != nil {
		log.Fatal(err)
	}
	areas, err := geo.NewAreas(metro)
	if err != nil {
		log.Fatal(err)
	}
	return areas
}

func ExampleAreas_Locate() {
	areas := loadMetro()
	places := []struct {
		name string
		p    orb.Point
	}{
		{"Firenze, Piazza del Duomo", orb.Point{11.2558, 43.7731}},
		{"Fiesole, Piazza Mino", orb.Point{11.2930, 43.8066}},
		{"Bari, Piazza Aldo Moro", orb.Point{16.8716, 41.1177}},
		{"Adriatic sea", orb.Point{17.0, 41.3}},
	}
	for _, pl := range places {
		if f, ok := areas.Locate(pl.p); ok {
			fmt.Printf("%s: %s (ISTAT %s)\n", pl.name, f.Name, f.ID)
		} else {
			fmt.Printf("%s: in no area\n", pl.name)
		}
	}
	duomo, _ := areas.Locate(orb.Point{11.2558, 43.7731})
	fmt.Println("Duomo in Fiesole:", duomo.Name == "Fiesole")
	// Output:
	// Firenze, Piazza del Duomo: Firenze (ISTAT 048017)
	// Fiesole, Piazza Mino: Fiesole (ISTAT 048015)
	// Bari, Piazza Aldo Moro: Bari (ISTAT 072006)
	// Adriatic sea: in no area
	// Duomo in Fiesole: false
}

func ExampleRoads_Nearest() {
	layer, err := geo.LoadLayer("testdata/roads.geojson", geo.KindRoads, geo.LoadOptions{})
	if err != nil {
		log.Fatal(err)
	}
	roads, err := geo.NewRoads(layer)
	if err != nil {
		log.Fatal(err)
	}
	queries := []struct {
		name   string
		p      orb.Point
		metres float64
	}{
		{"Piazza del Duomo, within 200 m", orb.Point{11.2558, 43.7731}, 200},
		{"Piazza Aldo Moro, within 200 m", orb.Point{16.8716, 41.1177}, 200},
		{"Piazza Aldo Moro, within 20 m", orb.Point{16.8716, 41.1177}, 20},
		{"Adriatic sea, at any distance", orb.Point{17.0, 41.3}, math.Inf(1)},
	}
	for _, q := range queries {
		if f, d, ok := roads.Nearest(q.p, q.metres); ok {
			fmt.Printf("%s: %s, %.0f m\n", q.name, f.Name, d)
		} else {
			fmt.Printf("%s: no road\n", q.name)
		}
	}
	// Output:
	// Piazza del Duomo, within 200 m: Via dei Calzaiuoli, 67 m
	// Piazza Aldo Moro, within 200 m: Corso Italia, 51 m
	// Piazza Aldo Moro, within 20 m: no road
	// Adriatic sea, at any distance: Corso Vittorio Emanuele II, 22155 m
}

func ExampleIndex_Query() {
	areas := loadMetro()
	sitesLayer, err := geo.LoadLayer("testdata/sites.geojson", geo.KindSites, geo.LoadOptions{})
	if err != nil {
		log.Fatal(err)
	}
	sites, err := geo.NewIndex(sitesLayer)
	if err != nil {
		log.Fatal(err)
	}
	// A map viewport over central Firenze.
	view := orb.Bound{Min: orb.Point{11.24, 43.76}, Max: orb.Point{11.27, 43.79}}
	// Query compares boxes: Bagno a Ripoli's box reaches into the viewport
	// although the municipality itself does not.
	for _, a := range areas.Query(view) {
		fmt.Println("municipality box:", a.Name)
	}
	for _, s := range sites.Query(view) {
		fmt.Println("site:", s.ID, s.Name)
	}
	// The whole Bari metropolitan area.
	bari := orb.Bound{Min: orb.Point{16.2, 40.6}, Max: orb.Point{17.4, 41.4}}
	fmt.Println("municipalities in the Bari box:", len(areas.Query(bari)))
	// Output:
	// municipality box: Bagno a Ripoli
	// municipality box: Firenze
	// site: S-FI-001 Traffic counter Viale Lavagnini
	// site: S-FI-002 Air quality Piazza San Marco
	// site: S-FI-003 Noise Piazza del Duomo
	// municipalities in the Bari box: 41
}

func ExampleParseLayer() {
	// A district drawn in Monte Mario / Italy zone 1 (Gauss-Boaga), as
	// Italian municipal GIS layers are published: reprojected on load.
	data := []byte(`{"type": "FeatureCollection",
"crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::3003"}},
"features": [{"type": "Feature", "id": "Q1", "properties": {"name": "Centro Storico"},
 "geometry": {"type": "Polygon", "coordinates": [[[1680500, 4848000], [1682500, 4848000],
  [1682500, 4850000], [1680500, 4850000], [1680500, 4848000]]]}}]}`)
	layer, err := geo.ParseLayer("quartieri.geojson", data, geo.KindAreas, geo.LoadOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	b := layer.Bound
	fmt.Printf("%s from %s: lon %.4f..%.4f lat %.4f..%.4f\n", layer.Features[0].Name, layer.CRS, b.Min[0], b.Max[0], b.Min[1], b.Max[1])

	// A CRS geo cannot reproject is refused, naming the file and the code.
	data = []byte(`{"type": "FeatureCollection",
"crs": {"type": "name", "properties": {"name": "EPSG:3857"}},
"features": []}`)
	_, err = geo.ParseLayer("tiles.geojson", data, geo.KindAreas, geo.LoadOptions{})
	fmt.Println(err)
	// Output:
	// Centro Storico from EPSG:3003 (Monte Mario / Italy zone 1): lon 11.2420..11.2675 lat 43.7624..43.7809
	// tiles.geojson:2: "crs": CRS "EPSG:3857" (EPSG:3857 WGS 84 / Pseudo-Mercator) is not supported: supported are EPSG 3003, 3004, 4258, 4326, 6706, 6707, 6708, 7791, 7792, 25832, 25833, 32632, 32633; reproject the file to one of them, e.g. ogr2ogr -t_srs EPSG:4326 out.geojson in.geojson
}
