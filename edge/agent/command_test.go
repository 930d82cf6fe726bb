package agent

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/ponte-city/ponte/edge/command"
	"github.com/ponte-city/ponte/edge/sim"
	"github.com/ponte-city/ponte/internal/testenv"
	"github.com/ponte-city/ponte/wire"
)

// simProcess is ponte-sim run as a subprocess serving one Modbus TCP unit,
// with its control API for the count of writes.
type simProcess struct {
	addr, control string
}

func startSimProcess(t *testing.T, profileFile string) *simProcess {
	t.Helper()
	bin := buildBinary(t, "github.com/ponte-city/ponte/cmd/ponte-sim")
	s := &simProcess{addr: fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t)), control: fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))}
	start(t, bin, "--profile", profileFile, "--modbus-tcp", s.addr, "--units", "1", "--control", s.control, "--update", "200ms")
	testenv.Eventually(t, 15*time.Second, "ponte-sim serving", func() bool { return testenv.TCPOpen(s.addr)() && testenv.TCPOpen(s.control)() })
	return s
}

// writes returns how many writes the simulator's unit 1 took of point.
func (s *simProcess) writes(t *testing.T, point string) int64 {
	t.Helper()
	_, body := get(t, "http://"+s.control+"/status")
	var st sim.Status
	if err := json.Unmarshal([]byte(body), &st); err != nil || len(st.Units) != 1 {
		t.Fatalf("ponte-sim status %q: %v", body, err)
	}
	return st.Units[0].Writes[point]
}

// operator stands in for ingest: it publishes commands on a gateway's
// command topic and collects the gateway's reports.
type operator struct {
	c       paho.Client
	topics  wire.Topics
	gateway string

	mu      sync.Mutex
	reports []wire.Report
	bad     []string
}

func newOperator(t *testing.T, broker, gateway string) *operator {
	t.Helper()
	o := &operator{c: mqttClient(t, broker, "operator-"+gateway), gateway: gateway}
	tok := o.c.Subscribe(o.topics.Report(gateway), 1, func(_ paho.Client, m paho.Message) {
		r, err := wire.DecodeReport(m.Payload())
		o.mu.Lock()
		defer o.mu.Unlock()
		if err != nil {
			o.bad = append(o.bad, err.Error())
			return
		}
		o.reports = append(o.reports, *r)
	})
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe to reports: %v", tok.Error())
	}
	return o
}

// command encodes a command for lamp-1 issued at issued, expiring after ttl.
func command1(t *testing.T, id string, value float64, issued time.Time, ttl time.Duration) []byte {
	t.Helper()
	data, err := wire.EncodeCommand(&wire.Command{ID: id, Device: "lamp-1", Point: "line_level", Value: value, Issued: issued, Expires: issued.Add(ttl)})
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func (o *operator) send(t *testing.T, payload []byte) {
	t.Helper()
	if tok := o.c.Publish(o.topics.Cmd(o.gateway), 1, false, payload); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("publish command: %v", tok.Error())
	}
}

// await waits for the n-th report of id (1-based) that satisfies match.
func (o *operator) await(t *testing.T, id string, n int, what string, match func(wire.Report) bool) wire.Report {
	t.Helper()
	var got wire.Report
	testenv.Eventually(t, 20*time.Second, what, func() bool {
		o.mu.Lock()
		defer o.mu.Unlock()
		k := 0
		for _, r := range o.reports {
			if r.ID == id && match(r) {
				if k++; k == n {
					got = r
					return true
				}
			}
		}
		return false
	})
	return got
}

func final(r wire.Report) bool { return r.Status.Final() }

// siteWithLamp is a site config with lamp-1, the Intesis DALI gateway at
// addr, its profiles from profilesDir.
func siteWithLamp(t *testing.T, gateway, broker, dir, listen, addr, profilesDir string) string {
	t.Helper()
	y := siteYAML(gateway, broker, dir, listen, fmt.Sprintf("  - {name: lamp-1, profile: intesis-dali-modbus, address: \"tcp://%s\", unit: 1, interval: 200ms, timeout: 500ms, location: {lon: 11.2558, lat: 43.7696}}\n", addr))
	return strings.Replace(y, "profiles: "+mustAbs(shippedProfiles), "profiles: "+mustAbs(profilesDir), 1)
}

// agentConnected waits until the agent's uplink is connected (and so
// subscribed to its command topic).
func agentConnected(t *testing.T, listen string) {
	t.Helper()
	testenv.Eventually(t, 20*time.Second, "the agent connected to the broker", func() bool {
		_, body, err := tryGet("http://" + listen + "/status")
		return err == nil && strings.Contains(body, `"connected": true`)
	})
}

// commandSetup starts ponte-sim serving profilesDir's Intesis DALI
// profile, Mosquitto, a stand-in for ingest that acknowledges batches and
// an operator on gateway's topics, and writes the gateway's site config;
// it returns its path and the agent's HTTP address.
func commandSetup(t *testing.T, gateway, profilesDir string) (s *simProcess, op *operator, path, listen string) {
	t.Helper()
	testenv.Integration(t, "mosquitto")
	s = startSimProcess(t, filepath.Join(profilesDir, "intesis-dali-modbus.yaml"))
	broker := testenv.Mosquitto(t)
	newAcknowledger(t, broker.URL, true)
	op = newOperator(t, broker.URL, gateway)
	dir := t.TempDir()
	listen = fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	path = filepath.Join(dir, "site.yaml")
	testenv.WriteFile(t, path, siteWithLamp(t, gateway, broker.URL, dir, listen, s.addr, profilesDir))
	return s, op, path, listen
}

// A command from ingest, through Mosquitto, to a real agent and ponte-sim
// over Modbus TCP: applied and read back; out of range refused and not
// written; the same ID again answered with the kept report and not
// written again; an expired command reported expired and not written.
func TestCommandsEndToEnd(t *testing.T) {
	const gwID = "gw-cmd"
	s, op, path, listen := commandSetup(t, gwID, shippedProfiles)
	start(t, buildBinary(t, "github.com/ponte-city/ponte/cmd/ponte-edge"), "--config", path, "--log-level", "info")
	agentConnected(t, listen)

	now := time.Now().UTC()
	applyCmd := command1(t, "c-apply", 40, now, time.Minute)
	sent := time.Now()
	op.send(t, applyCmd)
	r := op.await(t, "c-apply", 1, "the report of c-apply", final)
	t.Logf("command to applied report: %s (a figure, not a limit; the benchmark measures it)", time.Since(sent).Round(time.Millisecond))
	if r.Status != wire.StatusApplied || r.Readback == nil || *r.Readback != 40 || r.Gateway != gwID || r.Repeat {
		t.Fatalf("c-apply: %+v, want applied with read-back 40", r)
	}
	op.await(t, "c-apply", 1, "the received step of c-apply", func(r wire.Report) bool { return r.Status == wire.StatusReceived })
	if n := s.writes(t, "line_level"); n != 1 {
		t.Errorf("ponte-sim counted %d writes of line_level, want 1", n)
	}

	op.send(t, command1(t, "c-refuse", 120, now, time.Minute))
	r = op.await(t, "c-refuse", 1, "the report of c-refuse", final)
	if r.Status != wire.StatusRefused || r.Detail != "value 120 is above the maximum 100 %" {
		t.Errorf("c-refuse: %+v, want refused", r)
	}

	op.send(t, applyCmd)
	r = op.await(t, "c-apply", 2, "the repeated report of c-apply", final)
	if !r.Repeat || r.Status != wire.StatusApplied || *r.Readback != 40 {
		t.Errorf("c-apply again: %+v, want the kept applied report with repeat", r)
	}

	op.send(t, command1(t, "c-expired", 50, now.Add(-2*time.Minute), time.Minute))
	if r = op.await(t, "c-expired", 1, "the report of c-expired", final); r.Status != wire.StatusExpired {
		t.Errorf("c-expired: %+v, want expired", r)
	}
	if n := s.writes(t, "line_level"); n != 1 {
		t.Errorf("ponte-sim counted %d writes of line_level after refused, repeated and expired commands, want 1", n)
	}

	var st struct{ Commands []command.Entry }
	_, body := get(t, "http://"+listen+"/status")
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatal(err)
	}
	if len(st.Commands) != 3 || st.Commands[0].ID != "c-expired" || st.Commands[2].ID != "c-apply" || st.Commands[2].Status != wire.StatusApplied {
		t.Errorf("/status commands: %+v", st.Commands)
	}
	op.mu.Lock()
	defer op.mu.Unlock()
	if len(op.bad) > 0 {
		t.Errorf("reports that do not decode: %v", op.bad)
	}
}

// kill -9 of the agent after the write and before its report (the point
// settles for 3 s): the agent started again reports the command failed,
// interrupted, and does not write it again, also when it is published
// again.
func TestCommandKill9(t *testing.T) {
	const gwID = "gw-cmd-kill"
	s, op, path, listen := commandSetup(t, gwID, "testdata/command-profiles")
	bin := buildBinary(t, "github.com/ponte-city/ponte/cmd/ponte-edge")
	args := []string{"--config", path, "--log-level", "info"}

	p := start(t, bin, args...)
	agentConnected(t, listen)
	cmd := command1(t, "k-1", 40, time.Now().UTC(), 5*time.Minute)
	op.send(t, cmd)
	op.await(t, "k-1", 1, "the received step", func(r wire.Report) bool { return r.Status == wire.StatusReceived })
	testenv.Eventually(t, 10*time.Second, "the write at the simulator", func() bool { return s.writes(t, "line_level") == 1 })
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil { // within the 3 s settle: before the report
		t.Fatal(err)
	}
	_ = p.wait(t, 10*time.Second)
	op.mu.Lock()
	for _, r := range op.reports {
		if r.ID == "k-1" && r.Status.Final() {
			t.Fatalf("a final report before the kill: %+v (the settle time did not hold the report)", r)
		}
	}
	op.mu.Unlock()

	start(t, bin, args...)
	r := op.await(t, "k-1", 1, "the report after the restart", final)
	if r.Status != wire.StatusFailed || r.Detail != command.Interrupted || r.Repeat {
		t.Errorf("after the restart: %+v, want failed %q", r, command.Interrupted)
	}
	agentConnected(t, listen)
	op.send(t, cmd)
	if r = op.await(t, "k-1", 2, "the answer to the command published again", final); !r.Repeat || r.Status != wire.StatusFailed {
		t.Errorf("published again: %+v, want the kept failed report", r)
	}
	if n := s.writes(t, "line_level"); n != 1 {
		t.Errorf("ponte-sim counted %d writes of line_level, want 1: the command was applied again", n)
	}
}
