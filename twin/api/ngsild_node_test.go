package api

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/paulmach/orb"

	"github.com/ponte-city/ponte/internal/testenv"
	"github.com/ponte-city/ponte/twin"
	"github.com/ponte-city/ponte/twin/ngsild"
)

// nodeTool is the folder of the Node tool (package.json and lock file
// checked in, node_modules installed by npm ci on first use).
const nodeTool = "testdata/ngsild-node"

// runNodeTool installs the tool's packages if needed and runs check.mjs.
func runNodeTool(t *testing.T, args ...string) []byte {
	t.Helper()
	node := testenv.Need(t, "node", "apt-get install nodejs npm")
	if _, err := os.Stat(filepath.Join(nodeTool, "node_modules", "jsonld")); err != nil {
		npm := testenv.Need(t, "npm", "apt-get install npm")
		cmd := exec.Command(npm, "ci", "--no-audit", "--no-fund")
		cmd.Dir = nodeTool
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("npm ci in %s: %v\n%s", nodeTool, err, out)
		}
	}
	cmd := exec.Command(node, append([]string{"check.mjs"}, args...)...)
	cmd.Dir = nodeTool
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node check.mjs: %v\n%s", err, stderr.String())
	}
	return out
}

// TestNGSIWithJSONLDProcessor reads the NGSI-LD API with FIWARE's ngsijs
// client and expands its answers (normalized with @context in the body,
// keyValues with @context in the body and in a Link header) with the
// jsonld.js processor: the terms expand to the Smart Data Models' IRIs
// (ParkingSpot's occupancy to Parking's through its type-scoped context),
// and the processor fetches only Ponte's context, from Ponte.
func TestNGSIWithJSONLDProcessor(t *testing.T) {
	testenv.Integration(t, "node")
	at := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	spot := twin.Entity{ID: "urn:ngsi-ld:ParkingSpot:ba-p1", Type: "ParkingSpot", Kind: twin.KindSite, Name: "P1",
		Geometry: orb.Point{16.87, 41.123}, Gateway: "gw-ba", Device: "bay1",
		Attrs: map[string]twin.Attr{"occupancy": {Value: 1.0, Unit: "1", ObservedAt: at}, "status": {Value: "occupied", ObservedAt: at}}}
	srv, _ := newTestServer(t, newFakeReader(append(fixtureEntities(), spot)...), nil)

	out := runNodeTool(t, srv.URL, testToken, siteAir.ID)
	var got struct {
		QueryFormat, EntityFormat, Link, Missing string
		QueryCount                               int
		QueryIDs, QueryContexts, TypeList        []string
		ExpandedNormalized                       []map[string]any
		ExpandedKeyValues, ExpandedLinked        []map[string]any
		Fetched, Refused                         []string
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("tool output %s: %v", out, err)
	}
	ctxURL := srv.URL + ngsild.ContextPath
	if got.QueryFormat != "application/ld+json" || got.QueryCount != 3 || !slices.Equal(got.QueryIDs, []string{siteBA.ID, siteAir.ID, spot.ID}) ||
		!slices.Equal(got.QueryContexts, []string{ctxURL}) {
		t.Errorf("queryEntities: format %q count %d ids %v contexts %v", got.QueryFormat, got.QueryCount, got.QueryIDs, got.QueryContexts)
	}
	if !slices.Contains(got.TypeList, "ParkingSpot") || got.Missing != "NotFoundError" {
		t.Errorf("listTypes %v; getEntity of a missing entity threw %q, want NotFoundError", got.TypeList, got.Missing)
	}
	if !slices.Equal(got.Fetched, []string{ctxURL}) || len(got.Refused) != 0 {
		t.Errorf("the processor fetched %v and was refused %v; want only %s", got.Fetched, got.Refused, ctxURL)
	}

	const (
		env     = "https://smartdatamodels.org/dataModel.Environment/"
		parking = "https://smartdatamodels.org/dataModel.Parking/"
		core    = "https://uri.etsi.org/ngsi-ld/"
	)
	byID := map[string]map[string]any{}
	for _, e := range got.ExpandedNormalized {
		byID[e["@id"].(string)] = e
	}
	air, spotX := byID[siteAir.ID], byID[spot.ID]
	if air == nil || spotX == nil {
		t.Fatalf("expanded entities %v", got.ExpandedNormalized)
	}
	if !slices.Equal(strs(air["@type"]), []string{env + "AirQualityObserved"}) || !slices.Equal(strs(spotX["@type"]), []string{parking + "ParkingSpot"}) {
		t.Errorf("types %v %v", air["@type"], spotX["@type"])
	}
	no2 := first(t, air, env+"no2")
	if !slices.Equal(strs(no2["@type"]), []string{core + "Property"}) || valueOf(t, no2, core+"hasValue") != 41.5 || valueOf(t, no2, core+"unitCode") != "GQ" {
		t.Errorf("expanded no2 %v", no2)
	}
	if first(t, spotX, parking+"occupancy") == nil || spotX[env+"occupancy"] != nil || spotX["https://smartdatamodels.org/dataModel.Transportation/occupancy"] != nil {
		t.Errorf("ParkingSpot occupancy did not expand to Parking's IRI: %v", spotX)
	}
	if first(t, air, "https://smartdatamodels.org/name") == nil || first(t, air, core+"location") == nil {
		t.Errorf("name or location not expanded: %v", air)
	}
	if first(t, air, core+"default-context/band") == nil {
		t.Errorf("band, which no model defines, did not expand with the default vocabulary: %v", air)
	}

	if got.EntityFormat != "application/ld+json" || len(got.ExpandedKeyValues) != 1 || len(got.ExpandedLinked) != 1 {
		t.Fatalf("keyValues: format %q, %d and %d expanded", got.EntityFormat, len(got.ExpandedKeyValues), len(got.ExpandedLinked))
	}
	if !strings.HasPrefix(got.Link, "<"+ctxURL+">;") {
		t.Errorf("Link %q", got.Link)
	}
	for name, kv := range map[string]map[string]any{"@context in the body": got.ExpandedKeyValues[0], "Link header": got.ExpandedLinked[0]} {
		if kv["@id"] != siteAir.ID || valueOf(t, kv, env+"no2") != 41.5 || valueOf(t, kv, "https://smartdatamodels.org/name") != "Fi air 1" {
			t.Errorf("%s: keyValues expanded to %v", name, kv)
		}
	}
}

// strs returns a JSON array of strings.
func strs(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}

// first returns the first node of an expanded property, nil if absent.
func first(t *testing.T, node map[string]any, key string) map[string]any {
	t.Helper()
	vs, _ := node[key].([]any)
	if len(vs) == 0 {
		return nil
	}
	m, _ := vs[0].(map[string]any)
	return m
}

// valueOf returns the @value of the first value of key in node.
func valueOf(t *testing.T, node map[string]any, key string) any {
	t.Helper()
	if node == nil {
		return nil
	}
	v := first(t, node, key)
	if v == nil {
		return nil
	}
	return v["@value"]
}
