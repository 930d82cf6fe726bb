package sim

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/ponte-city/ponte/internal/testenv"
)

const meterYAML = `model: Test Meter
manufacturer: Ponte
source: test profile for ponte-sim
category: energy
kind: modbus
modbus:
  order: CDAB
  points:
    - name: voltage_l1
      table: input
      address: 0
      type: float32
      unit: V
    - name: energy_import
      table: input
      address: 10
      type: uint32
      unit: kWh
      scale: 0.01
    - name: setpoint
      table: holding
      address: 0
      type: int16
      sim: {pattern: constant, min: 42, max: 42}
`

func writeProfile(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "meter.yaml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func waitTCP(t *testing.T, addr string) {
	t.Helper()
	testenv.Eventually(t, 20*time.Second, addr+" answering /status", func() bool {
		resp, err := http.Get("http://" + addr + "/status")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil
	})
}

func getStatus(t *testing.T, addr string) Status {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/status")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st Status
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	return st
}

func post(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Post(url, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// exerciseSim checks a running simulator through Modbus and the control API.
func exerciseSim(t *testing.T, modbusAddr, controlAddr string) {
	t.Helper()
	waitTCP(t, controlAddr)
	for _, unit := range []uint8{1, 2} {
		c, _ := tcpClient(t, modbusAddr, unit)
		got, err := c.ReadHoldingRegisters(0, 1)
		if err != nil {
			t.Fatalf("unit %d: %v", unit, err)
		}
		if v := int16(binary.BigEndian.Uint16(got)); v != 42 {
			t.Errorf("unit %d setpoint %d, want the constant 42", unit, v)
		}
		if _, err := c.ReadInputRegisters(0, 12); err != nil {
			t.Errorf("unit %d input block: %v", unit, err)
		}
	}
	base := "http://" + controlAddr
	if code := post(t, base+"/fault?unit=2&kind=exception"); code != http.StatusNoContent {
		t.Fatalf("POST /fault: %d", code)
	}
	c2, _ := tcpClient(t, modbusAddr, 2)
	if _, err := c2.ReadHoldingRegisters(0, 1); exceptionCode(err) != exDeviceFailure {
		t.Errorf("unit 2 under exception fault: %v", err)
	}
	if code := post(t, base+"/value?unit=1&point=setpoint&value=-7"); code != http.StatusNoContent {
		t.Fatalf("POST /value: %d", code)
	}
	c1, _ := tcpClient(t, modbusAddr, 1)
	if got, err := c1.ReadHoldingRegisters(0, 1); err != nil || int16(binary.BigEndian.Uint16(got)) != -7 {
		t.Errorf("setpoint after POST /value: % X, %v", got, err)
	}
	for _, bad := range []string{"/fault?unit=9&kind=timeout", "/fault?unit=1&kind=melt", "/value?unit=1&point=nope&value=1"} {
		if code := post(t, base+bad); code < 400 {
			t.Errorf("POST %s: %d, want an error", bad, code)
		}
	}
	st := getStatus(t, controlAddr)
	if len(st.Units) != 2 || st.Units[1].Fault != "exception" || st.Units[0].Requests < 3 || st.Units[1].Requests < 3 {
		t.Errorf("status %+v", st)
	}
}

func TestRunInProcess(t *testing.T) {
	modbusAddr := "127.0.0.1:" + strconv.Itoa(testenv.FreePort(t))
	controlAddr := "127.0.0.1:" + strconv.Itoa(testenv.FreePort(t))
	o, err := ParseArgs([]string{"--profile", writeProfile(t, meterYAML), "--modbus-tcp", modbusAddr,
		"--units", "1-2", "--control", controlAddr, "--update", "50ms", "--time-scale", "3600"}, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, nil, o) }()
	exerciseSim(t, modbusAddr, controlAddr)
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run after cancel: %v", err)
	}
}

func TestRunRejects(t *testing.T) {
	path := writeProfile(t, meterYAML)
	tests := []struct {
		name string
		args []string
	}{
		{"serial on a modbus profile", []string{"--profile", path, "--serial", "/dev/null"}},
		{"missing profile", []string{"--profile", filepath.Join(t.TempDir(), "none.yaml"), "--modbus-tcp", "127.0.0.1:0"}},
		{"fault on unserved unit", []string{"--profile", path, "--modbus-tcp", "127.0.0.1:0", "--fault", "5=timeout"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o, err := ParseArgs(tc.args, os.Stderr)
			if err != nil {
				t.Fatal(err)
			}
			if err := Run(context.Background(), nil, o); err == nil {
				t.Error("Run accepted it")
			}
		})
	}
}

func TestBinary(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "ponte-sim")
	build := exec.Command("go", "build", "-o", bin, "github.com/ponte-city/ponte/cmd/ponte-sim")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	modbusAddr := "127.0.0.1:" + strconv.Itoa(testenv.FreePort(t))
	controlAddr := "127.0.0.1:" + strconv.Itoa(testenv.FreePort(t))
	cmd := exec.Command(bin, "--profile", writeProfile(t, meterYAML), "--modbus-tcp", modbusAddr,
		"--units", "1,2", "--control", controlAddr, "--seed", "3")
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
		}
	})
	exerciseSim(t, modbusAddr, controlAddr)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("ponte-sim exit after SIGTERM: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("ponte-sim did not stop on SIGTERM")
	}
	out, err := exec.Command(bin, "--profile", "x.yaml").CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 {
		t.Errorf("bad flags: exit %v, want 2\n%s", err, out)
	}
}

// TestRunSeveralTCPAddresses serves the same units on every address of a
// comma-separated --modbus-tcp, as the agent's scale benchmarks use it.
func TestRunSeveralTCPAddresses(t *testing.T) {
	a := "127.0.0.1:" + strconv.Itoa(testenv.FreePort(t))
	b := "127.0.0.1:" + strconv.Itoa(testenv.FreePort(t))
	o, err := ParseArgs([]string{"--profile", writeProfile(t, meterYAML), "--modbus-tcp", a + "," + b, "--units", "1-2"}, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, nil, o) }()
	for _, addr := range []string{a, b} {
		testenv.Eventually(t, 10*time.Second, "ponte-sim listening on "+addr, testenv.TCPOpen(addr))
		for unit := byte(1); unit <= 2; unit++ {
			c, _ := tcpClient(t, addr, unit)
			if _, err := c.ReadInputRegisters(0, 12); err != nil {
				t.Errorf("%s unit %d: %v", addr, unit, err)
			}
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run after cancel: %v", err)
	}
}
