package ngsild_test

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/paulmach/orb"

	"github.com/ponte-city/ponte/twin"
	"github.com/ponte-city/ponte/twin/ngsild"
)

// A handler's path: parse the raw query (";" stays in values), match,
// page, render.
func Example() {
	at := time.Date(2026, 12, 5, 10, 30, 0, 0, time.UTC)
	es := []twin.Entity{{
		ID: "urn:ngsi-ld:ParkingSpot:ba-p1", Type: "ParkingSpot", Name: "P1",
		Geometry: orb.Point{16.87, 41.123},
		Attrs:    map[string]twin.Attr{"status": {Value: "occupied", ObservedAt: at}},
	}}
	q, err := ngsild.ParseRawQuery(`type=ParkingSpot&q=status=="occupied"&georel=near;maxDistance==500&geometry=Point&coordinates=[16.87,41.124]&options=keyValues`)
	if err != nil {
		fmt.Println(err)
		return
	}
	var out []ngsild.Entity
	for _, e := range es {
		if q.Match(e) {
			out = append(out, q.Represent(e))
		}
	}
	b, _ := json.Marshal(out)
	fmt.Println(string(b))

	_, err = ngsild.ParseRawQuery(`q=status=free`)
	fmt.Println(err)
	// Output:
	// [{"id":"urn:ngsi-ld:ParkingSpot:ba-p1","location":{"type":"Point","coordinates":[16.87,41.123]},"name":"P1","status":"occupied","type":"ParkingSpot"}]
	// Bad request data: q: at position 7: expected an operator (==, !=, >, >=, <, <=) but found "=free"
}
