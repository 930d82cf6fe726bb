package mqtt

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ponte-city/ponte/internal/profile"
	"github.com/ponte-city/ponte/wire"
)

// TestFirmwareProfiles is the contract between the shipped MQTT profiles
// and the mapper: an uplink in the profile's format carrying a plausible
// value for every field maps to good readings of those values.
func TestFirmwareProfiles(t *testing.T) {
	paths, err := filepath.Glob(filepath.Join("..", "..", "..", "firmware-profiles", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	tested := 0
	for _, path := range paths {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(data, []byte("kind: mqtt")) {
			continue
		}
		t.Run(filepath.Base(path), func(t *testing.T) {
			p, err := profile.Parse(path, data)
			if err != nil {
				t.Fatal(err)
			}
			received := time.Date(2024, 5, 14, 8, 0, 0, 0, time.UTC)
			payload, want := samplePayload(t, p.MQTT, received.Add(-time.Second))
			m, err := Map(p.MQTT, "t", payload, received)
			if err != nil {
				t.Fatalf("%v\npayload %s", err, payload)
			}
			if _, idPath, _, _ := p.MQTT.Defaults(); idPath != "" && m.DeviceID != "0102030405060708" {
				t.Errorf("device ID %q", m.DeviceID)
			}
			if len(m.Readings) != len(p.MQTT.Fields) || m.TimeIssue != TimeOK {
				t.Fatalf("mapped %+v from %s: want %d readings stamped with the payload time", m, payload, len(p.MQTT.Fields))
			}
			for _, r := range m.Readings {
				if !r.Quality.Good() || !sameValue(r.Value, want[r.Point]) {
					t.Errorf("%s: %v %s %s, want %v", r.Point, r.Value, r.Quality, r.Reason, want[r.Point])
				}
			}
		})
		tested++
	}
	if tested == 0 {
		t.Fatal("no MQTT profiles found in firmware-profiles/")
	}
}

// samplePayload builds an uplink for mapping p with a value per field (the
// middle of its range), returning the values the mapper should produce.
func samplePayload(t *testing.T, p *profile.MQTT, at time.Time) ([]byte, map[string]wire.Value) {
	t.Helper()
	_, idPath, timePath, root := p.Defaults()
	doc := map[string]any{}
	put := func(path string, v any) {
		if strings.ContainsAny(path, `|#*?@\`) {
			t.Fatalf("sample payload cannot place path %q", path)
		}
		parts := strings.Split(path, ".")
		m := doc
		for _, k := range parts[:len(parts)-1] {
			next, ok := m[k].(map[string]any)
			if !ok {
				next = map[string]any{}
				m[k] = next
			}
			m = next
		}
		m[parts[len(parts)-1]] = v
	}
	if idPath != "" {
		put(idPath, "0102030405060708")
	}
	if timePath != "" {
		put(timePath, at.Format(time.RFC3339Nano))
	}
	if dp := dataPath(p.Format); dp != "" {
		put(dp, "AQID")
	}
	want := map[string]wire.Value{}
	for _, f := range p.Fields {
		mid := 7.0
		if f.Range.Min != nil && f.Range.Max != nil {
			mid = (*f.Range.Min + *f.Range.Max) / 2
		}
		var raw any
		var v wire.Value
		switch f.Type {
		case profile.TypeInt:
			raw, v = int64(mid), wire.Int(int64(mid))
		case profile.TypeFloat:
			raw, v = mid+0.25, wire.Float(mid+0.25)
		case profile.TypeBool:
			raw, v = true, wire.Bool(true)
		default:
			raw, v = "sample", wire.String("sample")
		}
		if f.Scaling.Scaled() {
			x, _ := v.AsFloat()
			v = wire.Float(f.Scaling.Apply(x))
		}
		path := f.Path
		if root != "" {
			path = root + "." + f.Path
		}
		put(path, raw)
		want[f.Name] = v
	}
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return b, want
}

// TestWS302VendorDecoder maps an uplink whose decoded_payload is what
// Milesight's published WS302 decoder returns for the example uplink of its
// README (017564055B053F02DA016A02) through the shipped profile: every
// field must be read, by the decoder's names, with the decoder's values.
func TestWS302VendorDecoder(t *testing.T) {
	p, err := profile.Load(filepath.Join("..", "..", "..", "firmware-profiles", "milesight-ws302-tts.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := Map(p.MQTT, "v3/firenze-noise@ttn/devices/ws302-matteotti-12/up", fixture(t, "tts_v3_ws302.json"), time.Date(2024, 5, 14, 10, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	if m.DeviceID != "24E124743C210101" {
		t.Errorf("device ID %q", m.DeviceID)
	}
	want := map[string]wire.Value{"LAF": wire.Float(57.5), "LAeq": wire.Float(47.4), "LAFmax": wire.Float(61.8), "battery": wire.Int(100)}
	if len(m.Readings) != len(want) {
		t.Fatalf("%d readings %+v, want %d", len(m.Readings), m.Readings, len(want))
	}
	for _, r := range m.Readings {
		if w, ok := want[r.Point]; !ok || !r.Quality.Good() || !sameValue(r.Value, w) {
			t.Errorf("%s = %v %s %s, want %v", r.Point, r.Value, r.Quality, r.Reason, w)
		}
	}
}
