package ctl

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	tarm "github.com/tarm/serial"

	"github.com/ponte-city/ponte/edge/sim"
	"github.com/ponte-city/ponte/internal/profile"
	"github.com/ponte-city/ponte/internal/testenv"
	"github.com/ponte-city/ponte/wire"
)

const sdm630 = "../../firmware-profiles/eastron-sdm630-v2.yaml"

func quiet() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
}

// simTCP serves a profile from the simulator on a loopback port.
func simTCP(t *testing.T, path string, units ...uint8) (addr string, srv *sim.ModbusServer) {
	t.Helper()
	p, err := profile.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	var us []*sim.ModbusUnit
	for _, id := range units {
		u, err := sim.NewModbusUnit(p, id, 1)
		if err != nil {
			t.Fatal(err)
		}
		us = append(us, u)
	}
	srv = sim.NewModbusServer(quiet(), us...)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = srv.ServeTCP(ctx, ln); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return "tcp://" + ln.Addr().String(), srv
}

func TestProbeModbusTCPJSON(t *testing.T) {
	addr, srv := simTCP(t, sdm630, 3)
	if err := srv.Unit(3).SetValue("voltage_l1", wire.Float(231.5)); err != nil {
		t.Fatal(err)
	}
	code, out, errs := run(t, "probe", "--profile", sdm630, "--modbus", addr, "--unit", "3", "--json")
	if code != ExitOK {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	p, _ := profile.Load(sdm630)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != len(p.Modbus.Points) {
		t.Fatalf("%d lines for %d points:\n%s", len(lines), len(p.Modbus.Points), out)
	}
	var v probeLine
	for _, l := range lines {
		var got map[string]any
		if err := json.Unmarshal([]byte(l), &got); err != nil {
			t.Fatalf("not JSON: %q: %v", l, err)
		}
		for _, k := range []string{"point", "value", "unit", "raw", "quality"} {
			if _, ok := got[k]; !ok {
				t.Fatalf("line %s lacks %q", l, k)
			}
		}
		if got["point"] == "voltage_l1" {
			_ = json.Unmarshal([]byte(l), &v)
		}
	}
	// 231.5 as float32 big-endian is 43 67 80 00.
	if v.Value != 231.5 || v.Unit != "V" || v.Raw != "43678000" || v.Quality != "good" {
		t.Fatalf("voltage_l1 line: %+v", v)
	}
}

func TestProbeModbusTable(t *testing.T) {
	addr, _ := simTCP(t, sdm630, 1)
	code, out, errs := run(t, "probe", "--profile", sdm630, "--modbus", addr)
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if !strings.HasPrefix(out, "POINT") || !strings.Contains(out, "frequency") || !strings.Contains(out, "Hz") {
		t.Fatalf("table:\n%s", out)
	}
}

func TestProbeDeadDevice(t *testing.T) {
	addr, srv := simTCP(t, sdm630, 1)
	srv.Unit(1).SetFault(sim.FaultException)
	code, out, _ := run(t, "probe", "--profile", sdm630, "--modbus", addr, "--unit", "1", "--json")
	if code != ExitFail {
		t.Fatalf("exit %d, want %d for a device answering exceptions", code, ExitFail)
	}
	if !strings.Contains(out, `"quality":"bad_device"`) || !strings.Contains(out, "exception") {
		t.Fatalf("output does not show the exception:\n%s", out)
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	closed := ln.Addr().String()
	ln.Close()
	code, _, errs := run(t, "probe", "--profile", sdm630, "--modbus", "tcp://"+closed, "--timeout", "2s")
	if code != ExitFail || !strings.Contains(errs+out, closed) && !strings.Contains(errs, "refused") {
		t.Fatalf("exit %d for a closed port, stderr %s", code, errs)
	}
}

func TestProbeSerialOverPty(t *testing.T) {
	const wxt = "../../firmware-profiles/vaisala-wxt530-nmea.yaml"
	devEnd, ourEnd := testenv.PtyPair(t)
	p, err := profile.Load(wxt)
	if err != nil {
		t.Fatal(err)
	}
	line, err := sim.NewLineDevice(p, 1)
	if err != nil {
		t.Fatal(err)
	}
	port, err := tarm.OpenPort(&tarm.Config{Name: devEnd, Baud: 19200, ReadTimeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = line.Serve(ctx, port, 200*time.Millisecond); close(done) }()
	t.Cleanup(func() { cancel(); <-done; port.Close() })

	code, out, errs := run(t, "probe", "--profile", wxt, "--serial", ourEnd, "--baud", "19200", "--json", "--timeout", "10s")
	if code != ExitOK {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	if n := strings.Count(out, `"point":"wind_speed"`); n != 1 {
		t.Fatalf("wind_speed printed %d times, want once:\n%s", n, out)
	}
	for _, want := range []string{`"point":"wind_speed"`, `"point":"temperature"`, `"point":"rain_intensity"`, `"raw":"WIXDR,C,`} {
		if !strings.Contains(out, want) {
			t.Fatalf("output lacks %s:\n%s", want, out)
		}
	}
}

func TestProbeUsage(t *testing.T) {
	cases := [][]string{
		{"probe", "--modbus", "tcp://127.0.0.1:1"},
		{"probe", "--profile", sdm630},
		{"probe", "--profile", sdm630, "--modbus", "tcp://x:1", "--serial", "/dev/null"},
		{"probe", "--profile", sdm630, "--serial", "/dev/ttyS0"},
		{"probe", "--profile", sdm630, "--modbus", "udp://x:1"},
		{"probe", "--profile", sdm630, "--modbus", "tcp://x:1", "--unit", "300"},
	}
	for _, args := range cases {
		t.Run(fmt.Sprint(args[1:]), func(t *testing.T) {
			if code, _, errs := run(t, args...); code != ExitUsage || errs == "" {
				t.Fatalf("exit %d, stderr %q", code, errs)
			}
		})
	}
}
