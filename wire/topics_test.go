package wire

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestTopics(t *testing.T) {
	tp := Topics{Prefix: "city/fi"}
	if got := tp.Up("gw-1"); got != "city/fi/gw/gw-1/up" {
		t.Fatal(got)
	}
	if got := (Topics{}).Ack("gw-1"); got != "ponte/gw/gw-1/ack" {
		t.Fatal(got)
	}
	if got := tp.UpFilter("ingest"); got != "$share/ingest/city/fi/gw/+/up" {
		t.Fatal(got)
	}
	if got := tp.UpFilter(""); got != "city/fi/gw/+/up" {
		t.Fatal(got)
	}
	cases := []struct {
		topic, gw, kind string
		ok              bool
	}{
		{"city/fi/gw/gw-1/up", "gw-1", "up", true},
		{"city/fi/gw/gw-1/status", "gw-1", "status", true},
		{"city/fi/gw/up", "", "", false},
		{"city/fi/gw//up", "", "", false},
		{"city/fi/gw/gw-1/up/extra", "", "", false},
		{"other/gw/gw-1/up", "", "", false},
	}
	for _, c := range cases {
		gw, kind, err := tp.Gateway(c.topic)
		if (err == nil) != c.ok || gw != c.gw || kind != c.kind {
			t.Errorf("Gateway(%q) = %q, %q, %v", c.topic, gw, kind, err)
		}
	}
}

func TestValidGatewayID(t *testing.T) {
	for id, want := range map[string]bool{"gw-firenze-017": true, "a.b_c": true, "": false, "a/b": false, "a+": false, "#": false, "é": false} {
		if ValidGatewayID(id) != want {
			t.Errorf("ValidGatewayID(%q) = %v", id, !want)
		}
	}
}

func TestAckAndStatus(t *testing.T) {
	a := Ack{Gateway: "gw-1", Epoch: 1 << 63, Seq: 42}
	got, err := DecodeAck(EncodeAck(a))
	if err != nil || !reflect.DeepEqual(got, a) {
		t.Fatalf("ack round trip: %+v %v", got, err)
	}
	if _, err := DecodeAck([]byte(`{"gateway":"g","epoch":1,"seq":2,"extra":1}`)); err == nil {
		t.Fatal("unknown field accepted")
	}
	if _, err := DecodeAck([]byte(`{"epoch":1,"seq":2}`)); !errors.Is(err, ErrEmpty) {
		t.Fatalf("missing gateway: %v", err)
	}
	s := Status{Gateway: "gw-1", State: StateOffline, Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	gs, err := DecodeStatus(EncodeStatus(s))
	if err != nil || !reflect.DeepEqual(gs, s) {
		t.Fatalf("status round trip: %+v %v", gs, err)
	}
	s.State, s.Health = StateOnline, &Health{Buffered: 12, Oldest: s.Time.Add(-time.Minute), DevicesUp: 3, DevicesBad: 1}
	if gs, err = DecodeStatus(EncodeStatus(s)); err != nil || !reflect.DeepEqual(gs, s) {
		t.Fatalf("status with health round trip: %+v %v", gs, err)
	}
	if _, err := DecodeStatus([]byte(`{"gateway":"g","state":"online","health":{"devices_bad":-1}}`)); err == nil ||
		!strings.Contains(err.Error(), "health.devices_bad -1") {
		t.Fatalf("negative device count: %v", err)
	}
	if _, err := DecodeStatus([]byte(`{"gateway":"g","state":"sleeping"}`)); err == nil {
		t.Fatal("bad state accepted")
	}
}
