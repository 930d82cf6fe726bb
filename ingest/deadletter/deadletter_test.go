package deadletter

import (
	"bytes"
	"log/slog"
	"os"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

var quiet = slog.New(slog.DiscardHandler)

func TestPutAndList(t *testing.T) {
	dir := t.TempDir()
	d, err := Open(Config{Dir: dir, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	letters := []Letter{
		{Reason: "corrupt", Detail: "crc32c mismatch", Transport: "mqtt", Topic: "ponte/gw/a/up", Gateway: "a"},
		{Reason: "gateway_mismatch", Transport: "http", Gateway: "b", Readings: 3},
	}
	for i, l := range letters {
		p, err := d.Put(l, []byte(strings.Repeat("x", i+1)))
		if err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(p)
		if err != nil || !bytes.Equal(data, []byte(strings.Repeat("x", i+1))) {
			t.Fatalf("payload %s = %q, %v", p, data, err)
		}
	}
	got, err := List(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(letters) {
		t.Fatalf("List: %d letters, want %d", len(got), len(letters))
	}
	for i := range got {
		if got[i].Reason != letters[i].Reason || got[i].Gateway != letters[i].Gateway || got[i].Bytes != i+1 || got[i].Time.IsZero() {
			t.Errorf("letter %d = %+v", i, got[i])
		}
	}
	if d.Count() != 2 {
		t.Errorf("Count = %d", d.Count())
	}
}

func TestCapEvictsOldest(t *testing.T) {
	tests := []struct {
		name     string
		maxBytes int64
		puts     int
		payload  int
	}{
		{"small cap", 2000, 20, 500},
		{"one fits", 900, 5, 500},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			reg := prometheus.NewRegistry()
			d, err := Open(Config{Dir: dir, MaxBytes: tc.maxBytes, Registerer: reg, Logger: quiet})
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i < tc.puts; i++ {
				if _, err := d.Put(Letter{Reason: "corrupt", Detail: strings.Repeat("d", i)}, make([]byte, tc.payload)); err != nil {
					t.Fatal(err)
				}
				if d.Bytes() > tc.maxBytes {
					t.Fatalf("after put %d: %d bytes > cap %d", i, d.Bytes(), tc.maxBytes)
				}
			}
			letters, err := List(dir)
			if err != nil {
				t.Fatal(err)
			}
			if len(letters) != d.Count() || len(letters) == 0 {
				t.Fatalf("%d letters on disk, Count %d", len(letters), d.Count())
			}
			// The survivors are the newest: their details are the longest.
			if last := letters[len(letters)-1]; len(last.Detail) != tc.puts-1 {
				t.Errorf("newest letter has detail length %d, want %d", len(last.Detail), tc.puts-1)
			}
			var m dto.Metric
			if err := d.evicted.Write(&m); err != nil {
				t.Fatal(err)
			}
			ev := m.GetCounter().GetValue()
			if int(ev)+len(letters) != tc.puts {
				t.Errorf("evicted %v + kept %d != put %d", ev, len(letters), tc.puts)
			}
			// A reopen accounts for what is there.
			d2, err := Open(Config{Dir: dir, MaxBytes: tc.maxBytes})
			if err != nil {
				t.Fatal(err)
			}
			if d2.Bytes() != d.Bytes() || d2.Count() != d.Count() {
				t.Errorf("reopen: %d bytes %d letters, want %d %d", d2.Bytes(), d2.Count(), d.Bytes(), d.Count())
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{"no dir", Config{}},
		{"negative cap", Config{Dir: "x", MaxBytes: -1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.cfg.Validate(); err == nil {
				t.Fatal("Validate succeeded")
			}
		})
	}
}
