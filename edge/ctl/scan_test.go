package ctl

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	tarm "github.com/tarm/serial"

	"github.com/ponte-city/ponte/edge/sim"
	"github.com/ponte-city/ponte/internal/profile"
	"github.com/ponte-city/ponte/internal/testenv"
)

// scanProfileYAML is a meter whose model code sits at holding 0xFC02, as
// vendors put it far from the measurements; holding says whether the
// map has a holding register 0 (else the probe read gets exception 2).
func scanProfileYAML(model string, code int, holding bool) string {
	y := "model: " + model + "\nmanufacturer: Test\nsource: test manual 1.0\ncategory: energy\nkind: modbus\nmodbus:\n  points:\n" +
		"    - {name: voltage, table: input, address: 0, type: float32}\n"
	if holding {
		y += "    - {name: node, table: holding, address: 0, type: uint16}\n"
	}
	return y + "  identify:\n    - {table: holding, address: 0xFC02, type: uint16, equals: " + strconv.Itoa(code) +
		", source: \"test manual 1.0, 3.2 meter code\"}\n"
}

// scanProfileDir writes meter A (code 112, no holding 0), meter B (code 113)
// and a profile without identify into a directory for --profiles.
func scanProfileDir(t *testing.T) (dir string, a, b *profile.Profile) {
	t.Helper()
	dir = t.TempDir()
	files := map[string]string{
		"meter-a.yaml": scanProfileYAML("Meter A", 112, false),
		"meter-b.yaml": scanProfileYAML("Meter B", 113, true),
	}
	for name, y := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(y), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	shipped, err := os.ReadFile(sdm630)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "eastron-sdm630-v2.yaml"), shipped, 0o644); err != nil {
		t.Fatal(err)
	}
	a, err = profile.Load(filepath.Join(dir, "meter-a.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	b, err = profile.Load(filepath.Join(dir, "meter-b.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return dir, a, b
}

// scanRows returns stdout's rows as "unit profile-names", the models in
// parentheses left out.
func scanRows(out string) []string {
	var rows []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n")[1:] {
		f := strings.Fields(parenRe.ReplaceAllString(l, ""))
		rows = append(rows, strings.Join(append(f[:1], f[2:]...), " "))
	}
	return rows
}

var parenRe = regexp.MustCompile(`\s*\([^)]*\),?`)

// TestScanRTU: three slaves on one RS-485 line (socat pty pair), units 2
// and 5 meters A and unit 9 a meter B: scan finds exactly those units and
// suggests each one's profile by its meter code.
func TestScanRTU(t *testing.T) {
	dir, a, b := scanProfileDir(t)
	simEnd, ourEnd := testenv.PtyPair(t)
	var units []*sim.ModbusUnit
	for _, u := range []struct {
		id uint8
		p  *profile.Profile
	}{{2, a}, {5, a}, {9, b}} {
		su, err := sim.NewModbusUnit(u.p, u.id, int64(u.id))
		if err != nil {
			t.Fatal(err)
		}
		units = append(units, su)
	}
	serveRTU(t, simEnd, units...)

	code, out, errs := run(t, "scan", "--rtu", ourEnd, "--baud", "9600", "--parity", "E", "--units", "1-10",
		"--timeout", "300ms", "--profiles", dir)
	if code != ExitOK {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	want := []string{"2 meter-a", "5 meter-a", "9 meter-b"}
	if got := scanRows(out); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("rows %q, want %q\nstdout:\n%s", got, want, out)
	}
	if !strings.Contains(out, "rtu://"+ourEnd+"?baud=9600&parity=E") || !strings.Contains(out, "(Test Meter A)") {
		t.Errorf("rows lack the address or the profile's model:\n%s", out)
	}
	if !strings.Contains(errs, "10/10 units tried, 3 found") {
		t.Errorf("stderr lacks the final progress line:\n%s", errs)
	}
	// auto stops at the first setting where a unit answers (a pty carries
	// any setting, so that is the first tried: 9600 even parity).
	code, out, errs = run(t, "scan", "--rtu", ourEnd, "--baud", "auto", "--parity", "auto", "--units", "8-9", "--profiles", dir)
	if code != ExitOK || strings.Join(scanRows(out), "|") != "9 meter-b" ||
		!strings.Contains(errs, "units answer at rtu://"+ourEnd+"?baud=9600&parity=E") || !strings.Contains(errs, "2/24 units tried") {
		t.Errorf("auto: exit %d\n%s\n%s", code, out, errs)
	}
	// A unit range with nobody on it fails and says what to check.
	code, _, errs = run(t, "scan", "--rtu", ourEnd, "--units", "100-101", "--timeout", "200ms", "--profiles", dir)
	if code != ExitFail || !strings.Contains(errs, "no unit answered") || !strings.Contains(errs, "next:") {
		t.Errorf("empty range: exit %d\n%s", code, errs)
	}
}

// serveRTU serves units on the simulator's end of a pty pair, as slaves
// sharing one RS-485 line at 9600 8E1.
func serveRTU(t *testing.T, simEnd string, units ...*sim.ModbusUnit) {
	t.Helper()
	port, err := tarm.OpenPort(&tarm.Config{Name: simEnd, Baud: 9600, Parity: tarm.ParityEven, ReadTimeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	srv := sim.NewModbusServer(quiet(), units...)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = srv.ServeRTU(ctx, port); close(done) }()
	t.Cleanup(func() { cancel(); <-done; port.Close() })
}

// TestScanTCP: one simulated TCP host with units 1 and 4 (others get the
// gateway's exception 0x0B, which is absence); only meter A is suggested.
func TestScanTCP(t *testing.T) {
	dir, _, _ := scanProfileDir(t)
	addr, _ := simTCP(t, filepath.Join(dir, "meter-a.yaml"), 1, 4)
	code, out, errs := run(t, "scan", "--tcp", strings.TrimPrefix(addr, "tcp://"), "--units", "1-12", "--profiles", dir)
	if code != ExitOK {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	want := []string{"1 meter-a", "4 meter-a"}
	if got := scanRows(out); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("rows %q, want %q\nstdout:\n%s", got, want, out)
	}
	// Without identify profiles, units are still listed, unsuggested.
	code, out, errs = run(t, "scan", "--tcp", strings.TrimPrefix(addr, "tcp://"), "--units", "1-5", "--profiles", t.TempDir())
	if code != ExitOK || strings.Join(scanRows(out), "|") != "1 -|4 -" || !strings.Contains(errs, "no profile with identify") {
		t.Fatalf("no profiles: exit %d\n%s\n%s", code, out, errs)
	}
}

// TestScanRefusesNetworkRange: scan reads one host; a range is refused
// before anything is sent.
func TestScanRefusesNetworkRange(t *testing.T) {
	for _, r := range []string{"10.0.0.0/24", "10.0.0.1-20:502", "10.0.0.*", "10.0.0.1,10.0.0.2", "tcp://192.168.1.0/24"} {
		code, out, errs := run(t, "scan", "--tcp", r)
		if code != ExitUsage || out != "" || !strings.Contains(errs, "never a network range") {
			t.Errorf("--tcp %s: exit %d, stdout %q, stderr %q", r, code, out, errs)
		}
	}
	for _, args := range [][]string{
		{"scan"},
		{"scan", "--rtu", "/dev/null", "--tcp", "h:502"},
		{"scan", "--rtu", "/dev/null", "--units", "0-3"},
		{"scan", "--rtu", "/dev/null", "--parity", "X"},
		{"scan", "--rtu", "/dev/null", "--baud", "fast"},
	} {
		if code, _, errs := run(t, args...); code != ExitUsage || errs == "" {
			t.Errorf("%v: exit %d, stderr %q", args, code, errs)
		}
	}
}
