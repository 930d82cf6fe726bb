package profile

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"
)

// TestTemplateWS558 checks the shipped WS558 profile's downlinks against
// Milesight's encoder (SensorDecoders e79c9d8, ws-series/ws558/
// ws558-encoder.js, controlSwitch): 0x08, a mask with bit n set for
// switch n+1, the state with bit n = 1 for on.
func TestTemplateWS558(t *testing.T) {
	p, err := Load("../../firmware-profiles/milesight-ws558-chirpstack.yaml")
	if err != nil {
		t.Fatal(err)
	}
	frame := map[string]*Template{}
	for _, d := range p.MQTT.Downlinks {
		if d.Frame == nil {
			t.Fatalf("downlink %s: Frame not set by Load", d.Name)
		}
		frame[d.Name] = d.Frame
	}
	cases := []struct {
		point string
		v     float64
		want  string
	}{
		{"switch_1", 1, "080101"}, // controlSwitch({switch_1: "on"})
		{"switch_1", 0, "080100"},
		{"switch_2", 1, "080202"}, // controlSwitch({switch_2: "on"})
		{"switch_2", 0, "080200"},
	}
	for _, c := range cases {
		got, err := frame[c.point].Encode(c.v)
		if err != nil {
			t.Fatalf("%s=%v: %v", c.point, c.v, err)
		}
		if hex.EncodeToString(got) != c.want {
			t.Errorf("%s=%v: % x, want %s", c.point, c.v, got, c.want)
		}
		back, ok := frame[c.point].Decode(got)
		if !ok || back != c.v {
			t.Errorf("%s: Decode(% x) = %v %v, want %v", c.point, got, back, ok, c.v)
		}
		for other, ft := range frame {
			if _, ok := ft.Decode(got); ok && other != c.point {
				t.Errorf("frame % x of %s also decodes as %s", got, c.point, other)
			}
		}
	}
}

func TestTemplateForms(t *testing.T) {
	cases := []struct {
		tmpl string
		v    float64
		want string
	}{
		{"{u8}", 255, "ff"},
		{"01 {u8<<7}", 1, "0180"},
		{"{u16le} ff", 0x1234, "3412ff"},
		{"{u16be}", 0x1234, "1234"},
		{"aa {i16le}", -2, "aafeff"},
		{"{i16be}", -32768, "8000"},
		{"{u32le}", 0x01020304, "04030201"},
		{"00 {u32be} 00", 4294967295, "00ffffffff00"},
	}
	for _, c := range cases {
		tp, err := ParseTemplate(c.tmpl)
		if err != nil {
			t.Fatalf("%q: %v", c.tmpl, err)
		}
		got, err := tp.Encode(c.v)
		if err != nil || hex.EncodeToString(got) != c.want {
			t.Errorf("%q.Encode(%v) = % x, %v; want %s", c.tmpl, c.v, got, err, c.want)
			continue
		}
		if back, ok := tp.Decode(got); !ok || back != c.v {
			t.Errorf("%q.Decode(% x) = %v, %v; want %v", c.tmpl, got, back, ok, c.v)
		}
	}
}

func TestTemplateEncodeRefuses(t *testing.T) {
	cases := []struct {
		tmpl string
		v    float64
		want string
	}{
		{"{u8}", 256, "value 256 does not fit {u8} of downlink \"{u8}\" (expected an integer 0 to 255)"},
		{"{u8}", -1, "expected an integer 0 to 255"},
		{"{u8}", 1.5, "value 1.5 does not fit"},
		{"08 02 {u8<<1}", 128, "expected an integer 0 to 127"},
		{"{i16be}", 32768, "expected an integer -32768 to 32767"},
		{"{u32le}", 4294967296, "expected an integer 0 to 4294967295"},
	}
	for _, c := range cases {
		tp, err := ParseTemplate(c.tmpl)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tp.Encode(c.v); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q.Encode(%v): %v, want %q", c.tmpl, c.v, err, c.want)
		}
	}
}

func TestTemplateDecodeRejects(t *testing.T) {
	tp, err := ParseTemplate("08 02 {u8<<1}")
	if err != nil {
		t.Fatal(err)
	}
	for _, frame := range []string{"080203", "080102", "0802", "08020200", ""} {
		b, _ := hex.DecodeString(frame)
		if v, ok := tp.Decode(b); ok {
			t.Errorf("Decode(%s) = %v, want no match", frame, v)
		}
	}
}

// FuzzParseTemplate: no template text panics; a parsed template encodes
// a value it accepts into a frame that decodes back to it.
func FuzzParseTemplate(f *testing.F) {
	for _, s := range []string{"08 01 {u8}", "08 02 {u8<<1}", "{u16le}", "ff {i16be} 00", "{u32be}", "{u8<<", "{", "0x08 {u8}", "{u8} {u8}"} {
		f.Add(s, int64(1), []byte{8, 1, 1})
	}
	f.Fuzz(func(t *testing.T, s string, v int64, frame []byte) {
		tp, err := ParseTemplate(s)
		if err != nil {
			return
		}
		tp.Decode(frame)
		b, err := tp.Encode(float64(v))
		if err != nil {
			return
		}
		if len(b) != tp.Len() || len(b) > MaxDownlinkBytes {
			t.Fatalf("%q: frame of %d bytes, Len %d", s, len(b), tp.Len())
		}
		if back, ok := tp.Decode(b); !ok || back != float64(v) {
			t.Fatalf("%q: Encode(%d) = % x decodes as %v %v", s, v, b, back, ok)
		}
		if again, _ := tp.Encode(float64(v)); !bytes.Equal(again, b) {
			t.Fatal("Encode is not deterministic")
		}
	})
}
