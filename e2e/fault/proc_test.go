//go:build fault

package fault

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

// buildBinaries builds the commands of this module into one directory.
func buildBinaries(t *testing.T, names ...string) string {
	t.Helper()
	dir := t.TempDir()
	args := []string{"build", "-o", dir + "/"}
	for _, n := range names {
		args = append(args, "github.com/ponte-city/ponte/cmd/"+n)
	}
	cmd := exec.Command("go", args...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go %v: %v\n%s", args, err, out)
	}
	return dir
}

// proc is a binary the test runs, restarted as often as the schedule
// says; every incarnation appends its output to one log file.
type proc struct {
	name string
	bin  string
	args []string
	log  string
	// ready, if set, is polled after each start until it returns true.
	ready func() bool

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan error
}

func newProc(t *testing.T, dir, name, bin string, args ...string) *proc {
	p := &proc{name: name, bin: bin, args: args, log: filepath.Join(dir, name+".log")}
	t.Cleanup(func() { p.kill() })
	return p
}

// start starts the process (if it is not running) and waits until ready.
func (p *proc) start(t *testing.T) {
	t.Helper()
	p.mu.Lock()
	if p.cmd != nil {
		p.mu.Unlock()
		return
	}
	logf, err := os.OpenFile(p.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		p.mu.Unlock()
		t.Fatal(err)
	}
	fmt.Fprintf(logf, "=== start %s\n", time.Now().UTC().Format(time.RFC3339Nano))
	cmd := exec.Command(p.bin, p.args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	err = cmd.Start()
	logf.Close()
	if err != nil {
		p.mu.Unlock()
		t.Fatalf("start %s: %v", p.name, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	p.cmd, p.done = cmd, done
	p.mu.Unlock()
	if p.ready == nil {
		return
	}
	deadline := time.Now().Add(60 * time.Second)
	for !p.ready() {
		select {
		case err := <-done:
			done <- err
			t.Fatalf("%s exited while starting: %v (log %s)", p.name, err, p.log)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready within 60s (log %s)", p.name, p.log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *proc) kill() { p.signal(syscall.SIGKILL, time.Minute) }

// stop sends SIGTERM and waits up to timeout before killing.
func (p *proc) stop(timeout time.Duration) error { return p.signal(syscall.SIGTERM, timeout) }

func (p *proc) signal(sig syscall.Signal, timeout time.Duration) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return nil
	}
	_ = p.cmd.Process.Signal(sig)
	var err error
	select {
	case err = <-p.done:
	case <-time.After(timeout):
		_ = p.cmd.Process.Kill()
		err = fmt.Errorf("%s did not exit within %s after %v; killed", p.name, timeout, sig)
		<-p.done
	}
	p.cmd, p.done = nil, nil
	if sig == syscall.SIGKILL {
		return nil
	}
	return err
}

// httpOK reports whether url answers 200.
func httpOK(url string) bool {
	c := http.Client{Timeout: time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}
