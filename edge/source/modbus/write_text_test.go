package modbus

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ponte-city/ponte/edge/source"
	"github.com/ponte-city/ponte/internal/profile"
	"github.com/ponte-city/ponte/internal/testenv"
)

// ditelProfile loads the shipped Ditel display profile (a message sign).
func ditelProfile(t *testing.T) *profile.Profile {
	t.Helper()
	p, err := profile.Load(filepath.Join("..", "..", "..", "firmware-profiles", "ditel-dn-display-modbus.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// Over Modbus TCP to the simulated Ditel display (which, like the manual's
// Table 66, takes at most the point's 5 registers): a message is written
// with one FC 16 of the registers it takes, NUL-terminated, and read back
// as written; a shorter message of even length after a longer one ends at
// its NUL, so nothing of the longer one is read; a poll then reads the
// message; with no_readback the write is acknowledged and nothing is read
// back.
func TestWriteTextTCP(t *testing.T) {
	p := ditelProfile(t)
	u := newUnit(t, p, 1, nil)
	addr, _ := serveTCP(t, u)
	s, err := New(Config{Devices: []source.Device{{Name: "sign-1", Profile: p, Address: addr, Unit: 1,
		Interval: 50 * time.Millisecond, Timeout: 2 * time.Second}}})
	if err != nil {
		t.Fatal(err)
	}
	c, _ := running(t, s)
	wp, err := p.Writable("message")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i, text := range []string{"8888 8888", "CodA"} {
		got, readable, err := s.WriteText(ctx, source.WriteRequest{Device: "sign-1", Point: "message", Text: text, Rules: wp.Write})
		if err != nil || !readable || got != text {
			t.Fatalf("write %q: read back %q readable %t, %v", text, got, readable, err)
		}
		if n := u.Writes()["message"]; n != int64(i+1) {
			t.Errorf("simulator counted %d writes of message, want %d", n, i+1)
		}
	}
	n := len(c.snapshot())
	testenv.Eventually(t, 10*time.Second, "a poll of the sign after the writes", func() bool {
		return len(latest(c.snapshot()[n:], "sign-1")) > 0
	})
	if r := latest(c.snapshot()[n:], "sign-1")["message"]; r.Value.S != "CodA" {
		t.Errorf("polled message: %+v, want CodA", r)
	}

	blind := *wp.Write
	blind.Text = &profile.TextRules{MaxLength: 9, Charset: "seven_segment", NoReadback: true}
	got, readable, err := s.WriteText(ctx, source.WriteRequest{Device: "sign-1", Point: "message", Text: "CodA", Rules: &blind})
	if err != nil || readable || got != "" {
		t.Errorf("no read-back: %q readable %t, %v", got, readable, err)
	}
	if _, _, err := s.WriteText(ctx, source.WriteRequest{Device: "sign-1", Point: "message", Text: strings.Repeat("8", 11), Rules: wp.Write}); err == nil || !strings.Contains(err.Error(), "does not fit 5 registers") {
		t.Errorf("text beyond the registers: %v", err)
	}
}
