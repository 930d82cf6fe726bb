package opsctl

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ponte-city/ponte/ingest/deadletter"
	"github.com/ponte-city/ponte/wire"
)

// letterDir writes two letters: readings of an unknown device from gw-1,
// and a corrupt payload from gw-2. It returns the directory and the IDs.
func letterDir(t *testing.T) (string, []string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "dead")
	d, err := deadletter.Open(deadletter.Config{Dir: dir, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 12, 5, 3, 0, 0, 9_000_000, time.UTC)
	payload, err := wire.Encode(nil, &wire.Batch{Gateway: "gw-1", Epoch: 42, Seqs: []uint64{9, 19}, Readings: []wire.Reading{
		{Device: "dev9", Point: "p1", Value: wire.Int(9437184), Unit: "V", Time: at},
		{Device: "dev9", Point: "p3", Value: wire.String("s19"), Unit: "V", Time: at.Add(10 * time.Millisecond)},
	}})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, put := range []struct {
		l deadletter.Letter
		p []byte
	}{
		{deadletter.Letter{Reason: "unknown_device", Detail: `2 readings of devices not in gateway "gw-1"'s device list`, Transport: "http", Topic: "/v1/gateways/gw-1/batches", Gateway: "gw-1"}, payload},
		{deadletter.Letter{Reason: "corrupt", Detail: "crc32c mismatch", Transport: "mqtt", Topic: "ponte/gw-2/up", Gateway: "gw-2"}, []byte("junk")},
	} {
		p, err := d.Put(put.l, put.p)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, strings.TrimSuffix(filepath.Base(p), ".bin"))
	}
	return dir, ids
}

func runCtl(args ...string) (int, string, string) {
	var out, errOut bytes.Buffer
	if len(args) == 0 || args[0] != "deadletter" {
		panic("runCtl runs ponte-ctl deadletter only")
	}
	code := Deadletter(context.Background(), Env{Stdout: &out, Stderr: &errOut}, args[1:])
	return code, out.String(), errOut.String()
}

func TestDeadletterList(t *testing.T) {
	dir, ids := letterDir(t)
	code, out, errOut := runCtl("deadletter", "list", "--dir", dir)
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 {
		t.Fatalf("want a header, two rows and a total:\n%s", out)
	}
	for _, want := range []string{"ID", "GATEWAY", "REASON", "READINGS", "WHAT", "REPLAYED"} {
		if !strings.Contains(lines[0], want) {
			t.Errorf("header %q lacks %s", lines[0], want)
		}
	}
	for _, want := range []string{ids[0], "gw-1", "unknown_device", "dev9/p1 at 2026-12-05T03:00:00.009Z (+1 more)"} {
		if !strings.Contains(lines[1], want) {
			t.Errorf("row 1 %q lacks %q", lines[1], want)
		}
	}
	for _, want := range []string{ids[1], "gw-2", "corrupt", "crc32c mismatch"} {
		if !strings.Contains(lines[2], want) {
			t.Errorf("row 2 %q lacks %q", lines[2], want)
		}
	}
	// Columns line up: the reason starts at the same offset in each row.
	if a, b := strings.Index(lines[1], "unknown_device"), strings.Index(lines[2], "corrupt"); a != b || a < 0 {
		t.Errorf("columns not aligned (%d, %d):\n%s", a, b, out)
	}

	code, out, _ = runCtl("deadletter", "list", "--dir", dir, "--gateway", "gw-2", "--json")
	var letters []deadletter.Letter
	if err := json.Unmarshal([]byte(out), &letters); code != ExitOK || err != nil {
		t.Fatalf("--json: exit %d, %v: %s", code, err, out)
	}
	if len(letters) != 1 || letters[0].ID != ids[1] || letters[0].Reason != "corrupt" {
		t.Errorf("--gateway gw-2 --json: %+v", letters)
	}
	code, out, _ = runCtl("deadletter", "list", "--dir", dir, "--reason", "time_out_of_range")
	if code != ExitOK || !strings.Contains(out, "no dead letters") {
		t.Errorf("filtered to nothing: exit %d, %q", code, out)
	}
}

func TestDeadletterShow(t *testing.T) {
	dir, ids := letterDir(t)
	code, out, errOut := runCtl("deadletter", "show", ids[0], "--dir", dir)
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{
		"id:", ids[0], "gateway:", "gw-1", "reason:", "unknown_device", "device list", "epoch:", "42",
		"SEQ", "DEVICE", "POINT", "VALUE",
		"9 ", "dev9", "p1", "2026-12-05T03:00:00.009Z", "9437184",
		"19", "p3", "s19",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("show lacks %q:\n%s", want, out)
		}
	}
	code, out, _ = runCtl("deadletter", "show", "--dir", dir, "--json", ids[1])
	var l deadletter.Letter
	if err := json.Unmarshal([]byte(out), &l); code != ExitOK || err != nil || l.Reason != "corrupt" || l.Bytes != 4 {
		t.Errorf("show --json: exit %d, %v, %+v", code, err, l)
	}
}

func TestDeadletterUsage(t *testing.T) {
	dir, _ := letterDir(t)
	cfg := filepath.Join(t.TempDir(), "ingest.yaml")
	if err := os.WriteFile(cfg, []byte("influx:\n  url: http://127.0.0.1:8086\ndead_letter:\n  dir: "+dir+"\nstate_dir: "+t.TempDir()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		code int
		want string // in stdout or stderr
	}{
		{"no subcommand", []string{"deadletter"}, ExitUsage, "expected list, show or replay"},
		{"no dir", []string{"deadletter", "list"}, ExitUsage, "--dir or --config is required"},
		{"show without id", []string{"deadletter", "show", "--dir", dir}, ExitUsage, "expected one letter ID"},
		{"no such letter", []string{"deadletter", "show", "20990101T000000.000000000Z-000001", "--dir", dir}, ExitFail, "no such dead letter"},
		{"not an id", []string{"deadletter", "show", "../../etc/passwd", "--dir", dir}, ExitFail, "is not a letter ID"},
		{"replay without url", []string{"deadletter", "replay", "x"}, ExitUsage, "--url or --config is required"},
		{"dir from config", []string{"deadletter", "list", "--config", cfg}, ExitOK, "2 letters"},
		{"replay without token", []string{"deadletter", "replay", "x", "--config", cfg}, ExitUsage, "no operator token"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(TokenEnv, "")
			code, out, errOut := runCtl(tc.args...)
			if code != tc.code || !strings.Contains(out+errOut, tc.want) {
				t.Errorf("exit %d, want %d; output lacks %q:\n%s%s", code, tc.code, tc.want, out, errOut)
			}
		})
	}
}

// TestDeadletterShowWindow: a letter of readings refused for their time
// shows the accepted window and by how much each reading misses it; a
// letter without a window (other reasons, or written before windows were
// recorded) shows none.
func TestDeadletterShowWindow(t *testing.T) {
	dir, ids := letterDir(t)
	d, err := deadletter.Open(deadletter.Config{Dir: dir, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	payload, err := wire.Encode(nil, &wire.Batch{Gateway: "gw-1", Epoch: 42, Seqs: []uint64{7}, Readings: []wire.Reading{
		{Device: "bay-1", Point: "occupied", Value: wire.Bool(true), Time: now.Add(time.Hour)},
	}})
	if err != nil {
		t.Fatal(err)
	}
	p, err := d.Put(deadletter.Letter{Reason: "time_out_of_range", Detail: "1 readings with an acquisition time outside the accepted window",
		Gateway: "gw-1", Window: &deadletter.Window{From: now.Add(-time.Hour), To: now.Add(5 * time.Minute)}}, payload)
	if err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCtl("deadletter", "show", strings.TrimSuffix(filepath.Base(p), ".bin"), "--dir", dir)
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{"gw-1", "time_out_of_range", "accepted window:", "2026-12-05T09:00:00Z to 2026-12-05T10:05:00Z",
		"bay-1", "occupied", "2026-12-05T11:00:00Z (55m0s after the window)", "true"} {
		if !strings.Contains(out, want) {
			t.Errorf("show lacks %q:\n%s", want, out)
		}
	}
	_, out, _ = runCtl("deadletter", "show", ids[0], "--dir", dir)
	if strings.Contains(out, "accepted window") {
		t.Errorf("a letter without a window shows one:\n%s", out)
	}
}
