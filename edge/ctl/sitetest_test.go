package ctl

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tarm "github.com/tarm/serial"

	"github.com/ponte-city/ponte/edge/sim"
	"github.com/ponte-city/ponte/internal/profile"
	"github.com/ponte-city/ponte/internal/testenv"
	"github.com/ponte-city/ponte/wire"
)

const aqt420 = "../../firmware-profiles/vaisala-aqt420.yaml"

// simRTU serves units of a profile from the simulator on one end of a
// socat pty pair (9600 8E1) and returns the other end's path.
func simRTU(t *testing.T, path string, ids ...uint8) (port string, srv *sim.ModbusServer) {
	t.Helper()
	simEnd, ourEnd := testenv.PtyPair(t)
	p, err := profile.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	var units []*sim.ModbusUnit
	for _, id := range ids {
		u, err := sim.NewModbusUnit(p, id, int64(id))
		if err != nil {
			t.Fatal(err)
		}
		units = append(units, u)
	}
	sp, err := tarm.OpenPort(&tarm.Config{Name: simEnd, Baud: 9600, Parity: tarm.ParityEven, ReadTimeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	srv = sim.NewModbusServer(quiet(), units...)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = srv.ServeRTU(ctx, sp); close(done) }()
	t.Cleanup(func() { cancel(); <-done; sp.Close() })
	return ourEnd, srv
}

// deadAddress is a loopback TCP address nothing listens on.
func deadAddress(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "tcp://" + addr
}

// writeSite writes a site config with the given devices (YAML list items)
// and returns its path.
func writeSite(t *testing.T, devices ...string) string {
	t.Helper()
	abs, err := filepath.Abs(shippedProfiles)
	if err != nil {
		t.Fatal(err)
	}
	body := fmt.Sprintf("gateway:\n  id: fi-test-01\nprofiles: %s\nuplink:\n  broker: tcp://127.0.0.1:1883\ndevices:\n%s", abs, strings.Join(devices, ""))
	path := filepath.Join(t.TempDir(), "site.yaml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func device(name, prof, addr string, unit int) string {
	return fmt.Sprintf("  - name: %s\n    profile: %s\n    address: %q\n    unit: %d\n    location: {lon: 11.2558, lat: 43.7696}\n", name, prof, addr, unit)
}

// TestSiteTest reads a site config's devices, a meter on a simulated
// Modbus TCP server and an air-quality station on an RTU line (a socat
// pty), each once: a table per device and a summary; then with a device
// that does not answer, whose error is printed once and the exit is 1.
func TestSiteTest(t *testing.T) {
	tcpAddr, tcpSrv := simTCP(t, sdm630, 3)
	if err := tcpSrv.Unit(3).SetValue("voltage_l1", wire.Float(231.5)); err != nil {
		t.Fatal(err)
	}
	rtuPort, rtuSrv := simRTU(t, aqt420, 1, 7)
	if err := rtuSrv.Unit(7).SetValue("no2", wire.Float(41.5)); err != nil {
		t.Fatal(err)
	}
	meter := device("meter", "eastron-sdm630-v2", tcpAddr, 3)
	air := device("air", "vaisala-aqt420", "rtu://"+rtuPort+"?baud=9600&parity=E", 7)

	t.Run("every device answers", func(t *testing.T) {
		path := writeSite(t, meter, air)
		code, out, errs := run(t, "test", path)
		if code != ExitOK {
			t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
		}
		for _, want := range []string{
			"meter (eastron-sdm630-v2 at " + tcpAddr + "): 20 good, 0 bad\nPOINT ",
			"air (vaisala-aqt420 at rtu://" + rtuPort + "?baud=9600&parity=E): 14 good, 0 bad\nPOINT ",
			"\n2 of 2 devices read\n",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("stdout lacks %q:\n%s", want, out)
			}
		}
		if !strings.Contains(out, "voltage_l1          231.5") || !strings.Contains(out, "no2 ") || !strings.Contains(out, "41.5") {
			t.Errorf("the values set on the simulator are not shown:\n%s", out)
		}
		if rtuSrv.Unit(1).Requests() != 0 {
			t.Errorf("unit 1 was asked on the RTU line")
		}
	})

	dead := deadAddress(t)
	withDead := writeSite(t, meter, device("cabinet-plc", "signal-controller-status", dead, 1), air)

	t.Run("a device that does not answer", func(t *testing.T) {
		code, out, errs := run(t, "test", withDead)
		if code != ExitFail {
			t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
		}
		if n := strings.Count(out, "connection refused"); n != 1 {
			t.Errorf("the error is shown %d times, want once:\n%s", n, out)
		}
		for _, want := range []string{
			"[1] every point: ",
			"next: nothing answers at " + dead + ": check the device's IP address and port",
			"\n2 of 3 devices read; not read: cabinet-plc",
			"bad_comm: [1]",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("stdout lacks %q:\n%s", want, out)
			}
		}
	})

	t.Run("json", func(t *testing.T) {
		code, out, errs := run(t, "test", "--json", withDead)
		if code != ExitFail {
			t.Fatalf("exit %d\n%s\n%s", code, out, errs)
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) != 3 {
			t.Fatalf("%d lines, want one per device:\n%s", len(lines), out)
		}
		var got []deviceTest
		for _, l := range lines {
			var d deviceTest
			if err := json.Unmarshal([]byte(l), &d); err != nil {
				t.Fatalf("%q: %v", l, err)
			}
			got = append(got, d)
		}
		if !got[0].OK || got[0].Good != 20 || got[0].Device != "meter" || len(got[0].Points) != 20 {
			t.Errorf("meter: %+v", got[0])
		}
		if got[1].OK || !strings.Contains(got[1].Error, "connection refused") || got[1].Next == "" || got[1].Bad == 0 {
			t.Errorf("cabinet-plc: %+v", got[1])
		}
		if !got[2].OK || got[2].Good != 14 {
			t.Errorf("air: %+v", got[2])
		}
	})
}

// TestSiteTestRefusesBadConfig: a site config that does not validate is
// not polled; its errors are listed once with what to do next.
func TestSiteTestRefusesBadConfig(t *testing.T) {
	path := writeSite(t, device("meter", "eastron-sdm630", "tcp://127.0.0.1:502", 1))
	code, out, errs := run(t, "test", path)
	if code != ExitFail || out != "" {
		t.Fatalf("exit %d, stdout %q", code, out)
	}
	if !strings.Contains(errs, `devices[0].profile: unknown profile "eastron-sdm630"`) || !strings.Contains(errs, "1 error in the site config: correct each at the line shown (ponte-ctl validate ") {
		t.Fatalf("stderr:\n%s", errs)
	}
	if code, _, _ := run(t, "test"); code != ExitUsage {
		t.Fatalf("no file: exit %d", code)
	}
}

// TestVersion: ponte-ctl --version prints its name and version.
func TestVersion(t *testing.T) {
	for _, arg := range []string{"--version", "version"} {
		code, out, _ := run(t, arg)
		if code != ExitOK || !strings.HasPrefix(out, "ponte-ctl ") || !strings.Contains(out, " (go") {
			t.Errorf("%s: exit %d, %q", arg, code, out)
		}
	}
}

// TestProbeErrorOnce: a probe of a device that does not answer shows the
// error once, under the table, and what to do next.
func TestProbeErrorOnce(t *testing.T) {
	dead := deadAddress(t)
	code, out, errs := run(t, "probe", "--profile", sdm630, "--modbus", dead, "--unit", "2")
	if code != ExitFail {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	if n := strings.Count(out+errs, "connection refused"); n != 1 {
		t.Errorf("the error is shown %d times, want once:\n%s\n%s", n, out, errs)
	}
	if !strings.Contains(out, "[1] every point: ") || !strings.Contains(errs, "next: nothing answers at "+dead) {
		t.Errorf("stdout:\n%s\nstderr:\n%s", out, errs)
	}
}
