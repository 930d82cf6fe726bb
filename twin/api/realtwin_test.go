package api

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/ponte-city/ponte/internal/testenv"
	"github.com/ponte-city/ponte/twin"
	"github.com/ponte-city/ponte/wire"
)

// The real twin is what the API serves in ponte-ingest.
var _ twin.Reader = (*twin.Twin)(nil)

// TestWithRealTwin runs the API over the real twin: a reading applied at
// ingest reaches an SSE client as an entity event and shows in the
// entities answer.
func TestWithRealTwin(t *testing.T) {
	tw, a, srv := realTwinServer(t, []twin.Site{
		{Gateway: "gw-fi", Device: "aq1", Category: "air", Lon: 11.25, Lat: 43.77, Interval: time.Minute},
		{Gateway: "gw-fi", Device: "tc1", Category: "traffic", Lon: 11.26, Lat: 43.78, Interval: time.Minute},
	})

	resp, body := get(t, srv+"/api/v1/entities?type=AirQualityObserved", testToken, nil)
	var fc testCollection
	if err := json.Unmarshal(body, &fc); err != nil || resp.StatusCode != http.StatusOK || len(fc.Features) != 1 {
		t.Fatalf("status %d, %d features (%v): %s", resp.StatusCode, len(fc.Features), err, body)
	}
	id := fc.Features[0].ID

	c := openStream(t, srv+"/api/v1/stream?type=AirQualityObserved", nil)
	testenv.Eventually(t, 10*time.Second, "the stream to open", func() bool { return a.streams.Load() == 1 })
	now := time.Now().UTC().Truncate(time.Millisecond)
	tw.Apply("gw-fi", 1, &wire.Batch{Gateway: "gw-fi", Epoch: 1, Seqs: []uint64{1, 2}, Readings: []wire.Reading{
		{Device: "aq1", Point: "no2", Value: wire.Float(41.5), Unit: "ug/m3", Time: now, Quality: wire.QualityGood},
		{Device: "tc1", Point: "lane1_intensity", Value: wire.Float(600), Unit: "1/h", Time: now, Quality: wire.QualityGood},
	}})
	ev := c.next(t, isEvent("entity"))
	var f testFeature
	if err := json.Unmarshal([]byte(ev.Data), &f); err != nil {
		t.Fatalf("event data %q: %v", ev.Data, err)
	}
	if f.ID != id || ev.ID == "" {
		t.Fatalf("event %+v, want entity %s", ev, id)
	}
	no2, _ := f.Properties["attrs"].(map[string]any)["no2"].(map[string]any)
	if no2["value"] != 41.5 || f.Properties["freshness"] != "fresh" {
		t.Errorf("feature %s", ev.Data)
	}
}
