package agent

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ponte-city/ponte/internal/testenv"
	"github.com/ponte-city/ponte/wire"
)

// buildBinary builds a command of this module into the test's directory.
func buildBinary(t testing.TB, pkg string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), filepath.Base(pkg))
	cmd := exec.Command("go", "build", "-o", out, pkg)
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, msg)
	}
	return out
}

// process is a binary run by a test, its output kept in a file.
type process struct {
	cmd *exec.Cmd
	log string
	err chan error
}

func start(t testing.TB, bin string, args ...string) *process {
	t.Helper()
	logf, err := os.CreateTemp(t.TempDir(), "log")
	if err != nil {
		t.Fatal(err)
	}
	p := &process{cmd: exec.Command(bin, args...), log: logf.Name(), err: make(chan error, 1)}
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	go func() { p.err <- p.cmd.Wait(); logf.Close() }()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.err
		p.err <- nil
		if t.Failed() {
			data, _ := os.ReadFile(p.log)
			t.Logf("%s output:\n%s", filepath.Base(bin), data)
		}
	})
	return p
}

// wait waits for the process to exit and returns its error.
func (p *process) wait(t testing.TB, timeout time.Duration) error {
	t.Helper()
	select {
	case err := <-p.err:
		p.err <- err
		return err
	case <-time.After(timeout):
		t.Fatalf("process did not exit within %s", timeout)
		return nil
	}
}

// TestKill9 kills the agent binary while ingest is not acknowledging,
// starts it again, and checks that every reading ingest had received
// before the kill arrives again, that no (epoch, seq) carries two
// different readings, and that the sequence has no gap. It then stops the
// agent with SIGTERM: a clean exit that publishes the offline status.
func TestKill9(t *testing.T) {
	bin := buildBinary(t, "github.com/ponte-city/ponte/cmd/ponte-edge")
	broker := testenv.Mosquitto(t)
	ack := newAcknowledger(t, broker.URL, false)
	addr := startModbusSim(t, filepath.Join(shippedProfiles, "eastron-sdm630-v2.yaml"), 1, 2, 3)
	dir := t.TempDir()
	listen := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	path := filepath.Join(dir, "site.yaml")
	testenv.WriteFile(t, path, siteYAML("gw-kill", broker.URL, dir, listen,
		modbusDevice("meter-1", addr, 1), modbusDevice("meter-2", addr, 2), modbusDevice("meter-3", addr, 3)))
	args := []string{"--config", path, "--log-level", "warn"}
	ready := func() bool {
		code, _, err := tryGet("http://" + listen + "/readyz")
		return err == nil && code == 200
	}

	p := start(t, bin, args...)
	testenv.Eventually(t, 15*time.Second, "the agent to be ready", ready)
	testenv.Eventually(t, 15*time.Second, "unacknowledged batches at ingest", func() bool { return len(ack.mark()) >= 200 })
	time.Sleep(2500 * time.Millisecond) // past ack_timeout: re-sends too
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = p.wait(t, 10*time.Second)
	before := ack.mark()
	var maxBefore uint64
	for k := range before {
		maxBefore = max(maxBefore, k.seq)
	}
	ack.setAcking(true)

	p = start(t, bin, args...)
	testenv.Eventually(t, 15*time.Second, "the agent to be ready again", ready)
	testenv.Eventually(t, 30*time.Second, "every reading received before the kill to arrive again", func() bool { return ack.seenAll(before) == 0 })
	testenv.Eventually(t, 15*time.Second, "ingest to acknowledge past the kill", func() bool {
		_, body, err := tryGet("http://" + listen + "/status")
		return err == nil && strings.Contains(body, `"connected": true`) && ackedAbove(body, maxBefore)
	})
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := p.wait(t, 30*time.Second); err != nil {
		t.Errorf("agent exit after SIGTERM: %v", err)
	}
	last := ack.check(t)
	t.Logf("%d readings before the kill (up to seq %d), %d in all, %d duplicates delivered", len(before), maxBefore, last, ack.dups)
	if last <= maxBefore {
		t.Errorf("nothing new after the restart: last seq %d", last)
	}
	testenv.Eventually(t, 5*time.Second, "offline status", func() bool {
		ack.mu.Lock()
		defer ack.mu.Unlock()
		return ack.status["gw-kill"].State == wire.StateOffline
	})
}
