package command

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ponte-city/ponte/edge/source"
	"github.com/ponte-city/ponte/internal/profile"
	"github.com/ponte-city/ponte/wire"
)

// fakeSign is a text-writing source: it keeps the texts written and reads
// back shown (default: the text written).
type fakeSign struct {
	fakeWriter
	mu    sync.Mutex
	texts []string
	shown func(string) string
	blind bool // the device cannot be read back
}

func (s *fakeSign) WriteText(_ context.Context, req source.WriteRequest) (string, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.texts = append(s.texts, req.Text)
	if s.blind {
		return "", false, nil
	}
	if s.shown != nil {
		return s.shown(req.Text), true, nil
	}
	return req.Text, true, nil
}

func (s *fakeSign) written() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.texts...)
}

func ditelProfile(t testing.TB) *profile.Profile {
	return loadProfile(t, "ditel-dn-display-modbus.yaml")
}

// startSign runs an executor with the DALI lamp-1 (numeric, written by a
// plain writer) and sign-1 (the Ditel display, written by sign).
func startSign(t *testing.T, sign *fakeSign, rules func(*profile.TextRules)) *harness {
	t.Helper()
	p := ditelProfile(t)
	if rules != nil {
		rules(p.Modbus.Points[0].Write.Text)
	}
	return start(t, t.TempDir(), &fakeWriter{}, newClock(), &reporter{}, func(c *Config) {
		c.Devices["sign-1"] = Device{Profile: p, Writer: sign, Timeout: time.Second}
	})
}

func (h *harness) textCmd(t *testing.T, id, device, point, text string) []byte {
	t.Helper()
	now := h.clk.now()
	data, err := wire.EncodeCommand(&wire.Command{ID: id, Device: device, Point: point, Text: text, Issued: now, Expires: now.Add(5 * time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// A message the display can show is written once and reported applied
// with the text read back; one it cannot show, one too long, a text for
// a numeric point and a number for the text point are refused with the
// profile's reason and never written.
func TestTextCommand(t *testing.T) {
	sign := &fakeSign{}
	h := startSign(t, sign, nil)
	h.e.Handle(h.textCmd(t, "t-1", "sign-1", "message", "PiEno"))
	r := h.rep.waitFinal(t, "t-1", 1)
	if r.Status != wire.StatusApplied || r.ReadbackText == nil || *r.ReadbackText != "PiEno" || r.Readback != nil {
		t.Fatalf("report %+v, want applied with read-back text PiEno", r)
	}
	for _, tc := range []struct {
		id, device, point, text string
		value                   float64
		want                    string
	}{
		{"t-2", "sign-1", "message", "PARK PIENO", 0, "text: the character 'R' cannot be shown on this display; allowed: 0-9 A b C c d E F H h i J L n o P r U u space , . - '"},
		{"t-3", "sign-1", "message", strings.Repeat("8", 10), 0, "text: message of 10 characters is longer than the 9 the display shows"},
		{"t-4", "lamp-1", "line_level", "40", 0, "text: this point takes a number (value), not a text"},
		{"t-5", "sign-1", "message", "", 40, "text: expected at least one character (a space blanks the display)"},
	} {
		var data []byte
		if tc.text != "" {
			data = h.textCmd(t, tc.id, tc.device, tc.point, tc.text)
		} else {
			data = h.cmd(t, tc.id, tc.device, tc.point, tc.value)
		}
		h.e.Handle(data)
		if r := h.rep.waitFinal(t, tc.id, 1); r.Status != wire.StatusRefused || r.Detail != tc.want {
			t.Errorf("%s: %s %q, want refused %q", tc.id, r.Status, r.Detail, tc.want)
		}
	}
	if got := sign.written(); len(got) != 1 || got[0] != "PiEno" {
		t.Errorf("texts written %q, want only PiEno", got)
	}
	if h.w.count() != 0 {
		t.Errorf("numeric writes %+v", h.w.calls)
	}
	if rec := h.e.Recent(); rec[len(rec)-1].Text != "PiEno" {
		t.Errorf("Recent: %+v", rec[len(rec)-1])
	}
}

// A read-back that differs fails with both texts; a display that cannot
// be read back is applied on its acknowledgement, saying so; an
// uppercase-only display gets the text upper-cased.
func TestTextReadback(t *testing.T) {
	sign := &fakeSign{shown: func(string) string { return "CodA" }}
	h := startSign(t, sign, nil)
	h.e.Handle(h.textCmd(t, "d-1", "sign-1", "message", "PiEno"))
	if r := h.rep.waitFinal(t, "d-1", 1); r.Status != wire.StatusFailed || r.ReadbackText == nil || *r.ReadbackText != "CodA" || r.Detail != `read back "CodA", wrote "PiEno"` {
		t.Errorf("differs: %+v", r)
	}

	blind := &fakeSign{blind: true}
	h = startSign(t, blind, func(r *profile.TextRules) { r.NoReadback = true })
	h.e.Handle(h.textCmd(t, "b-1", "sign-1", "message", "LibEro"))
	if r := h.rep.waitFinal(t, "b-1", 1); r.Status != wire.StatusApplied || r.ReadbackText != nil || r.Detail != profile.NoReadbackDetail {
		t.Errorf("no read-back: %+v", r)
	}

	upper := &fakeSign{}
	h = startSign(t, upper, func(r *profile.TextRules) { r.Uppercase, r.Charset, r.Chars = true, "", "ABCDEFGHIJKLMNOPQRSTUVWXYZ " })
	h.e.Handle(h.textCmd(t, "u-1", "sign-1", "message", "park pien"))
	if r := h.rep.waitFinal(t, "u-1", 1); r.Status != wire.StatusApplied || *r.ReadbackText != "PARK PIEN" {
		t.Errorf("uppercase: %+v", r)
	}
}

// A source that cannot write text: the text command is refused.
func TestTextNoTextWriter(t *testing.T) {
	p := ditelProfile(t)
	h := start(t, t.TempDir(), &fakeWriter{}, newClock(), &reporter{}, func(c *Config) {
		c.Devices["sign-1"] = Device{Profile: p, Writer: &fakeWriter{}, Timeout: time.Second}
	})
	h.e.Handle(h.textCmd(t, "n-1", "sign-1", "message", "PiEno"))
	if r := h.rep.waitFinal(t, "n-1", 1); r.Status != wire.StatusRefused || r.Detail != "device sign-1: its source cannot write text" {
		t.Errorf("%+v", r)
	}
}
