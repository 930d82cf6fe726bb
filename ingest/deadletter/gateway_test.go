package deadletter

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ponte-city/ponte/internal/testenv"
	"github.com/ponte-city/ponte/wire"
)

// TestCapIsPerGateway: gateway A floods far past the cap; B's earlier
// letters all stay, and A stays within its own cap.
func TestCapIsPerGateway(t *testing.T) {
	dir := t.TempDir()
	const maxBytes = 4000
	d, err := Open(Config{Dir: dir, MaxBytes: maxBytes, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err := d.Put(Letter{Reason: "unknown_device", Gateway: "gw-b", Detail: "b" + strings.Repeat("x", i)}, make([]byte, 300)); err != nil {
			t.Fatal(err)
		}
	}
	for range 200 {
		if _, err := d.Put(Letter{Reason: "gateway_mismatch", Gateway: "gw-a"}, make([]byte, 500)); err != nil {
			t.Fatal(err)
		}
	}
	if got := d.GatewayBytes("gw-a"); got > maxBytes || got == 0 {
		t.Errorf("gw-a holds %d bytes, cap %d", got, maxBytes)
	}
	letters, err := List(dir)
	if err != nil {
		t.Fatal(err)
	}
	var b, a int
	for _, l := range letters {
		switch l.Gateway {
		case "gw-b":
			b++
		case "gw-a":
			a++
		}
	}
	if b != 3 {
		t.Errorf("gw-b has %d letters after gw-a's flood, want all 3", b)
	}
	if a == 0 || a >= 200 {
		t.Errorf("gw-a has %d letters, want some evicted and some kept", a)
	}
	// A reopen accounts per gateway too: B's letters still survive A's
	// next letters.
	d2, err := Open(Config{Dir: dir, MaxBytes: maxBytes, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	if d2.GatewayBytes("gw-b") != d.GatewayBytes("gw-b") || d2.GatewayBytes("gw-a") != d.GatewayBytes("gw-a") {
		t.Errorf("reopen: gw-a %d gw-b %d bytes, want %d %d", d2.GatewayBytes("gw-a"), d2.GatewayBytes("gw-b"), d.GatewayBytes("gw-a"), d.GatewayBytes("gw-b"))
	}
	for range 20 {
		if _, err := d2.Put(Letter{Reason: "gateway_mismatch", Gateway: "gw-a"}, make([]byte, 500)); err != nil {
			t.Fatal(err)
		}
	}
	if got := d2.GatewayBytes("gw-b"); got != d.GatewayBytes("gw-b") {
		t.Errorf("gw-b bytes %d after reopen and flood, want %d", got, d.GatewayBytes("gw-b"))
	}
}

// TestModes: the directory is 0700 (also when it existed wider) and
// letters 0600.
func TestModes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "dl")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	d, err := Open(Config{Dir: dir, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	p, err := d.Put(Letter{Reason: "corrupt", Gateway: "gw-1"}, []byte("junk"))
	if err != nil {
		t.Fatal(err)
	}
	id := strings.TrimSuffix(filepath.Base(p), ".bin")
	if err := MarkReplayed(dir, id, Replay{Time: time.Now()}); err != nil {
		t.Fatal(err)
	}
	testenv.RequireMode(t, 0o700, dir)
	for _, ext := range []string{".bin", ".json", replayedExt} {
		testenv.RequireMode(t, 0o600, filepath.Join(dir, id+ext))
	}
}

// TestLetterNamesReadings: a letter of a batch names each refused
// reading's device, point, time and value, and reads back by ID.
func TestLetterNamesReadings(t *testing.T) {
	dir := t.TempDir()
	d, err := Open(Config{Dir: dir, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2031, 1, 2, 3, 4, 5, 0, time.UTC)
	payload, err := wire.Encode(nil, &wire.Batch{Gateway: "gw-1", Epoch: 7, Seqs: []uint64{41, 43}, Readings: []wire.Reading{
		{Device: "meter-9", Point: "voltage", Value: wire.Float(231.5), Unit: "V", Time: at},
		{Device: "meter-9", Point: "state", Value: wire.String(""), Time: at, Quality: wire.QualityBadComm, Reason: "timeout"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	p, err := d.Put(Letter{Reason: "time_out_of_range", Detail: "2 readings outside [x, y]", Gateway: "gw-1"}, payload)
	if err != nil {
		t.Fatal(err)
	}
	id := strings.TrimSuffix(filepath.Base(p), ".bin")
	l, got, err := Read(dir, id)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(payload) || l.ID != id || l.Epoch != 7 || l.Readings != 2 || len(l.Entries) != 2 {
		t.Fatalf("letter %+v", l)
	}
	want := Entry{Seq: 41, Device: "meter-9", Point: "voltage", Time: at, Value: "231.5", Unit: "V"}
	if l.Entries[0] != want {
		t.Errorf("entry 0 = %+v, want %+v", l.Entries[0], want)
	}
	if e := l.Entries[1]; e.Seq != 43 || !strings.Contains(e.Quality, "timeout") {
		t.Errorf("entry 1 = %+v, want seq 43 and its bad quality", e)
	}
	for _, bad := range []string{"../etc/passwd", "x", id + "/..", ""} {
		if _, _, err := Read(dir, bad); err == nil {
			t.Errorf("Read(%q) succeeded", bad)
		}
	}
}
