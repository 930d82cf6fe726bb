package sitetiles_test

import (
	"fmt"
	"testing"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/mvt"
	"github.com/paulmach/orb/maptile"

	"github.com/ponte-city/ponte/twin"
	"github.com/ponte-city/ponte/twin/sitetiles"
)

// grid is n sites on a square grid over about 2 by 2 km of central
// Firenze, a quarter each fresh, stale, offline and never updated, and
// one gateway among them.
func grid(n int) []twin.Entity {
	states := []twin.Freshness{twin.Fresh, twin.Stale, twin.Offline, twin.Unknown}
	var out []twin.Entity
	side := 1
	for side*side < n {
		side++
	}
	for i := range n {
		p := orb.Point{11.236 + 0.0225*float64(i%side)/float64(side), 43.764 + 0.02*float64(i/side)/float64(side)}
		out = append(out, twin.Entity{ID: fmt.Sprintf("site-%d", i), Kind: twin.KindSite, Type: "TrafficFlowObserved", Geometry: p, Freshness: states[i%4]})
	}
	out = append(out, twin.Entity{ID: "gw", Kind: twin.KindGateway, Type: "Device", Geometry: orb.Point{11.25, 43.77}, Freshness: twin.Fresh,
		Attrs: map[string]twin.Attr{twin.AttrRevoked: {Value: true}}})
	return out
}

// decode returns a tile's features' properties.
func decode(t *testing.T, body []byte) []map[string]any {
	t.Helper()
	layers, err := mvt.Unmarshal(body)
	if err != nil || len(layers) != 1 || layers[0].Name != sitetiles.Layer {
		t.Fatalf("tile: %v %v", layers, err)
	}
	var out []map[string]any
	for _, f := range layers[0].Features {
		out = append(out, f.Properties)
	}
	return out
}

// TestEncodeClusters: zoomed out, the sites of a tile are counted by
// freshness in clusters that add up to every site; the gateway stays on
// its own with its fleet state. From ClusterMaxZoom, each site is its own
// point with what the map's layers read.
func TestEncodeClusters(t *testing.T) {
	ents := grid(1000)
	c := orb.Point{11.25, 43.77}
	tl := maptile.At(c, 10)
	body, err := sitetiles.Encode(ents, tl, sitetiles.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	var total, offline, gateways, singles int
	for _, p := range decode(t, body) {
		switch {
		case p["point_count"] != nil:
			total += int(p["point_count"].(float64))
			offline += int(p["offline"].(float64))
		case p["kind"] == "gateway":
			gateways++
			if p["fleet"] != "revoked" {
				t.Errorf("gateway's fleet %v, want revoked", p["fleet"])
			}
		default:
			singles++
		}
	}
	if total+singles != 1000 || offline > 250 || offline < 200 || gateways != 1 {
		t.Errorf("zoom 10: %d clustered (%d offline) + %d alone, %d gateways; want 1000 sites, 250 offline, 1 gateway", total, offline, singles, gateways)
	}

	tl = maptile.At(orb.Point{11.2365, 43.7645}, sitetiles.ClusterMaxZoom+4)
	body, err = sitetiles.Encode(ents, tl, sitetiles.Filter{Freshness: twin.Offline})
	if err != nil {
		t.Fatal(err)
	}
	feats := decode(t, body)
	if len(feats) == 0 {
		t.Fatal("no site at street zoom")
	}
	for _, p := range feats {
		if p["point_count"] != nil || p["freshness"] != "offline" || p["_id"] == nil || p["type"] != "TrafficFlowObserved" {
			t.Errorf("street zoom, offline only: %v", p)
		}
	}
}

// TestEncodeCrowded: from ClusterMaxZoom a cell of more than Crowded
// sites is one cluster whose _id is its CellID (what the page paints a
// live change over) and whose counts add up with the sites drawn alone
// to every site of the tile; a cell of fewer draws each site.
func TestEncodeCrowded(t *testing.T) {
	ents := grid(100000)
	z := sitetiles.ClusterMaxZoom + 2
	tl := maptile.At(orb.Point{11.245, 43.77}, maptile.Zoom(z))
	body, err := sitetiles.Encode(ents, tl, sitetiles.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{} // cell ID -> sites in the tile's area
	area := sitetiles.Bound(tl)
	inTile := 0
	for _, e := range ents[:len(ents)-1] {
		p := e.Geometry.(orb.Point)
		if area.Contains(p) {
			x, y := sitetiles.Cell(p, z)
			want[sitetiles.CellID(z, x, y)]++
			inTile++
		}
	}
	var clusters, total, singles int
	for _, p := range decode(t, body) {
		switch {
		case p["point_count"] != nil:
			clusters++
			n := int(p["point_count"].(float64))
			id, _ := p["_id"].(string)
			if want[id] != n || n <= sitetiles.Crowded {
				t.Errorf("cluster %q of %d sites, want %d (more than %d)", id, n, want[id], sitetiles.Crowded)
			}
			total += n
		case p["kind"] == "site":
			singles++
		}
	}
	if clusters == 0 || clusters > 4*8*8 || total+singles != inTile {
		t.Errorf("zoom %d: %d clusters of %d sites + %d alone; want at most %d clusters and %d sites", z, clusters, total, singles, 4*8*8, inTile)
	}

	body, err = sitetiles.Encode(grid(1000), tl, sitetiles.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range decode(t, body) {
		if p["point_count"] != nil {
			t.Errorf("1,000 sites at zoom %d: a cluster %v, want each site alone", z, p)
		}
	}
}

// TestSummarize: the frame is the busiest place's, not the box of every
// device.
func TestSummarize(t *testing.T) {
	ents := grid(100)
	ents = append(ents, twin.Entity{ID: "bari", Kind: twin.KindSite, Geometry: orb.Point{16.87, 41.11}},
		twin.Entity{ID: "area", Kind: twin.KindArea, Geometry: orb.Point{0, 0}})
	s := sitetiles.Summarize(ents)
	if s.Sites != 101 || s.Gateways != 1 || len(s.Frame) != 4 || s.Frame[2] > 12 || s.Frame[0] < 11 {
		t.Errorf("%+v", s)
	}
}

// BenchmarkEncode cuts a zoomed-out tile of 100,000 sites (the worst
// tile: every site in it, clustered) and a street-zoom one.
func BenchmarkEncode(b *testing.B) {
	ents := grid(100000)
	for _, z := range []maptile.Zoom{10, 16} {
		tl := maptile.At(orb.Point{11.245, 43.77}, z)
		b.Run(fmt.Sprintf("z=%d", z), func(b *testing.B) {
			b.ReportAllocs()
			var n int
			for b.Loop() {
				body, err := sitetiles.Encode(ents, tl, sitetiles.Filter{})
				if err != nil {
					b.Fatal(err)
				}
				n = len(body)
			}
			b.ReportMetric(float64(n), "tile_bytes")
		})
	}
}
