package wire_test

import (
	"os"
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
	f.Add([]byte(`{"v":1,"id":"c2","device":"sign","point":"message","text":"PiEno","issued":"2026-12-05T20:00:00Z","expires":"2026-12-05T20:01:00Z"}`))
	f.Add([]byte(`{"v":1,"id":"c2","device":"sign","point":"message","value":1,"text":"PiEno","issued":"2026-12-05T20:00:00Z","expires":"2026-12-05T20:01:00Z"}`))
	f.Add([]byte(`{"v":1,"id":"c2","gateway":"gw1","status":"applied","readback_text":"PiEno","at":"2026-12-05T20:00:00Z"}`))
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

// A text command: its JSON carries "text" and no "value" (golden), the
// report "readback_text" (golden); both round-trip.
func TestTextCommandGolden(t *testing.T) {
	at := time.Date(2026, 12, 5, 20, 0, 0, 0, time.UTC)
	c := &wire.Command{ID: "c-02", Device: "sign-1", Point: "message", Text: "PiEno", Issued: at, Expires: at.Add(time.Minute)}
	data, err := wire.EncodeCommand(c)
	if err != nil {
		t.Fatal(err)
	}
	goldenJSON(t, "testdata/command-text-v1.json", data)
	got, err := wire.DecodeCommand(data)
	want := *c
	want.V = wire.CommandVersion
	if err != nil || *got != want {
		t.Fatalf("round trip: %+v %v, want %+v", got, err, want)
	}
	rb := "PiEno"
	r := &wire.Report{V: 1, ID: "c-02", Gateway: "gw1", Status: wire.StatusApplied, ReadbackText: &rb, At: at}
	data, err = wire.EncodeReport(r)
	if err != nil {
		t.Fatal(err)
	}
	goldenJSON(t, "testdata/report-text-v1.json", data)
	gr, err := wire.DecodeReport(data)
	if err != nil || gr.ReadbackText == nil || *gr.ReadbackText != "PiEno" || gr.Readback != nil {
		t.Fatalf("report round trip: %+v %v", gr, err)
	}
	// A numeric command's JSON is what it was before text existed.
	num, err := wire.EncodeCommand(&wire.Command{ID: "c1", Device: "lamp", Point: "level", Value: 0, Issued: at, Expires: at.Add(time.Minute)})
	if err != nil || string(num) != `{"v":1,"id":"c1","device":"lamp","point":"level","value":0,"issued":"2026-12-05T20:00:00Z","expires":"2026-12-05T20:01:00Z"}` {
		t.Errorf("numeric command JSON changed: %s %v", num, err)
	}
	if _, err := wire.EncodeCommand(&wire.Command{ID: "c1", Device: "lamp", Point: "level", Value: 3, Text: "x", Issued: at, Expires: at.Add(time.Minute)}); err == nil || !strings.Contains(err.Error(), "value and text") {
		t.Errorf("encode with both: %v", err)
	}
}

func TestTextCommandRefused(t *testing.T) {
	ok := `"v":1,"id":"c1","device":"sign","point":"message","issued":"2026-12-05T20:00:00Z","expires":"2026-12-05T20:01:00Z"`
	for _, tc := range []struct{ data, want string }{
		{`{` + ok + `,"value":1,"text":"PiEno"}`, "value and text: expected one of them"},
		{`{` + ok + `,"text":"a\u0007b"}`, "text: control character U+0007"},
		{`{` + ok + `,"text":"` + strings.Repeat("x", wire.MaxTextLen+1) + `"}`, "text: 1025 bytes, at most 1024"},
	} {
		if _, err := wire.DecodeCommand([]byte(tc.data)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%.70s: %v, want %q", tc.data, err, tc.want)
		}
	}
	// JSON decoding turns invalid UTF-8 into U+FFFD; encoding refuses it.
	at := time.Date(2026, 12, 5, 20, 0, 0, 0, time.UTC)
	if _, err := wire.EncodeCommand(&wire.Command{ID: "c1", Device: "sign", Point: "message", Text: "\xff", Issued: at, Expires: at.Add(time.Minute)}); err == nil || !strings.Contains(err.Error(), "text: expected UTF-8") {
		t.Errorf("encode invalid UTF-8: %v", err)
	}
	okr := `"v":1,"id":"c1","gateway":"gw1","status":"applied","at":"2026-12-05T20:00:00Z"`
	for _, tc := range []struct{ data, want string }{
		{`{` + okr + `,"readback":1,"readback_text":"x"}`, "expected at most one of them"},
		{`{` + okr + `,"readback_text":"a\nb"}`, "readback_text: control character"},
	} {
		if _, err := wire.DecodeReport([]byte(tc.data)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%.70s: %v, want %q", tc.data, err, tc.want)
		}
	}
}

// goldenJSON compares data with the file at path (written by hand: a
// change of the JSON is a change of the contract).
func goldenJSON(t *testing.T, path string, data []byte) {
	t.Helper()
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(want) != string(data)+"\n" {
		t.Errorf("%s:\n got %s\nwant %s", path, data, want)
	}
}
