package wire_test

import (
	"strings"
	"testing"
	"time"

	"github.com/ponte-city/ponte/wire"
)

func TestCommandRoundTrip(t *testing.T) {
	at := time.Date(2026, 12, 5, 20, 0, 0, 0, time.UTC)
	c := &wire.Command{ID: "c-01", Device: "lamp-3", Point: "arc_power_level", Value: 40, Issued: at, Expires: at.Add(time.Minute)}
	data, err := wire.EncodeCommand(c)
	if err != nil {
		t.Fatal(err)
	}
	if c.V != 0 {
		t.Errorf("EncodeCommand changed its argument: V %d", c.V)
	}
	got, err := wire.DecodeCommand(data)
	want := *c
	want.V = wire.CommandVersion
	if err != nil || *got != want {
		t.Fatalf("round trip: %+v %v, want %+v", got, err, want)
	}
	rb := 40.0
	r := &wire.Report{ID: "c-01", Gateway: "gw1", Status: wire.StatusApplied, Readback: &rb, At: at}
	data, err = wire.EncodeReport(r)
	if err != nil {
		t.Fatal(err)
	}
	gr, err := wire.DecodeReport(data)
	if err != nil || gr.ID != r.ID || gr.Status != wire.StatusApplied || *gr.Readback != 40 || !gr.At.Equal(at) {
		t.Fatalf("report round trip: %+v %v", gr, err)
	}
	if !wire.StatusApplied.Final() || wire.StatusReceived.Final() || wire.StatusSent.Final() {
		t.Error("Final")
	}
}

func TestCommandRefused(t *testing.T) {
	ok := `"v":1,"id":"c1","device":"lamp","point":"level","value":5,"issued":"2026-12-05T20:00:00Z","expires":"2026-12-05T20:01:00Z"`
	for _, tc := range []struct{ data, want string }{
		{`{` + ok + `,"extra":1}`, `unknown field "extra"`},
		{`{` + strings.Replace(ok, `"v":1`, `"v":2`, 1) + `}`, "version 2"},
		{`{` + strings.Replace(ok, `"c1"`, `"c/1"`, 1) + `}`, "id \"c/1\""},
		{`{` + strings.Replace(ok, `"lamp"`, `"la mp"`, 1) + `}`, "device \"la mp\""},
		{`{` + strings.Replace(ok, `"level"`, `"1level"`, 1) + `}`, "point \"1level\""},
		{`{` + strings.Replace(ok, `20:01:00Z`, `19:59:00Z`, 1) + `}`, "expires"},
		{`{` + ok + `} {}`, "data after"},
		{`{` + ok + `,"pad":"` + strings.Repeat("x", wire.MaxCommandBytes) + `"}`, "at most"},
	} {
		if _, err := wire.DecodeCommand([]byte(tc.data)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%.60s: %v, want %q", tc.data, err, tc.want)
		}
	}
	okr := `"v":1,"id":"c1","gateway":"gw1","status":"applied","at":"2026-12-05T20:00:00Z"`
	for _, tc := range []struct{ data, want string }{
		{`{` + strings.Replace(okr, "applied", "done", 1) + `}`, `status "done"`},
		{`{` + strings.Replace(okr, `"gw1"`, `"gw 1"`, 1) + `}`, "gateway"},
		{`{` + okr + `,"detail":"` + strings.Repeat("x", wire.MaxDetailLen+1) + `"}`, "detail"},
		{`{` + strings.Replace(okr, `,"at":"2026-12-05T20:00:00Z"`, "", 1) + `}`, "at: expected"},
	} {
		if _, err := wire.DecodeReport([]byte(tc.data)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%.60s: %v, want %q", tc.data, err, tc.want)
		}
	}
}

func FuzzDecodeCommand(f *testing.F) {
	f.Add([]byte(`{"v":1,"id":"c1","device":"lamp","point":"level","value":5,"issued":"2026-12-05T20:00:00Z","expires":"2026-12-05T20:01:00Z"}`))
	f.Add([]byte(`{"v":1,"id":"c1","gateway":"gw1","status":"applied","readback":5,"at":"2026-12-05T20:00:00Z"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		if c, err := wire.DecodeCommand(data); err == nil {
			again, err := wire.EncodeCommand(c)
			if err != nil {
				t.Fatalf("a decoded command does not encode: %v", err)
			}
			if c2, err := wire.DecodeCommand(again); err != nil || *c2 != *c {
				t.Fatalf("re-decoded %+v %v, want %+v", c2, err, c)
			}
		}
		if r, err := wire.DecodeReport(data); err == nil {
			if _, err := wire.EncodeReport(r); err != nil {
				t.Fatalf("a decoded report does not encode: %v", err)
			}
		}
	})
}
