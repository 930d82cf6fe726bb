package testenv

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Process is a program a test runs: a real component (Mosquitto, influxd)
// or one of Ponte's own binaries. Start starts it and waits until it is
// ready; Kill (SIGKILL, a crash) and Stop (SIGTERM, a clean shutdown)
// end it, and Start brings it back with the same arguments. Every
// incarnation appends its output to one log file, whose tail the test
// logs when it fails. Set the exported fields before the first Start.
// The methods may be called from any goroutine; they serialise.
type Process struct {
	// Name names the process in failures and in the log.
	Name string
	// Bin and Args are the command line.
	Bin  string
	Args []string
	// Env is added to the test's environment.
	Env []string
	// Ready, if set, is polled after each start until it returns true; a
	// process that exits first, or is not ready within ReadyTimeout
	// (default 60 s), fails the test.
	Ready        func() bool
	ReadyTimeout time.Duration
	// Log is the file the output goes to (NewProcess puts it in a temp
	// directory of the test).
	Log string

	tb testing.TB

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan error // receives cmd.Wait's result once
	from   int64      // the log's size when this incarnation started
}

// NewProcess returns the process name running bin with args, not yet
// started. It is killed when the test ends; if the test failed, the tail
// of its log is logged.
func NewProcess(tb testing.TB, name, bin string, args ...string) *Process {
	tb.Helper()
	p := &Process{Name: name, Bin: bin, Args: args, Log: tb.TempDir() + "/" + name + ".log", tb: tb}
	tb.Cleanup(func() {
		p.Kill()
		if tb.Failed() {
			tb.Logf("%s log (last 40 lines, %s):\n%s", name, p.Log, p.LogTail(40))
		}
	})
	return p
}

// Start starts the process, if it is not running, and waits until it is
// ready; the test fails if it exits first or is not ready in time.
func (p *Process) Start() {
	p.tb.Helper()
	if err := p.TryStart(); err != nil {
		p.tb.Fatal(err)
	}
}

// TryStart is Start returning its failure instead of failing the test, for
// a caller that can mend the cause and try again (a port another process
// bound between the probe and the start: see BindConflict).
func (p *Process) TryStart() error {
	p.mu.Lock()
	if p.cmd != nil {
		p.mu.Unlock()
		return nil
	}
	logf, err := os.OpenFile(p.Log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		p.mu.Unlock()
		return fmt.Errorf("%s: open log: %w", p.Name, err)
	}
	fmt.Fprintf(logf, "=== start %s %s\n", p.Name, time.Now().UTC().Format(time.RFC3339Nano))
	st, _ := logf.Stat()
	cmd := exec.Command(p.Bin, p.Args...)
	if len(p.Env) > 0 {
		cmd.Env = append(os.Environ(), p.Env...)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	err = cmd.Start()
	logf.Close() // the child holds its own descriptor
	if err != nil {
		p.mu.Unlock()
		return fmt.Errorf("start %s (%s): %w", p.Name, p.Bin, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	p.cmd, p.exited, p.from = cmd, exited, st.Size()
	p.mu.Unlock()
	if p.Ready == nil {
		return nil
	}
	timeout := p.ReadyTimeout
	if timeout <= 0 {
		timeout = 60 * time.Second
	}
	deadline := time.Now().Add(timeout)
	pause := time.Millisecond
	for !p.Ready() {
		select {
		case err := <-exited:
			exited <- err // Kill and Stop still wait on it
			p.mu.Lock()
			p.cmd = nil
			p.mu.Unlock()
			return fmt.Errorf("%s exited while starting: %v\nlog tail:\n%s", p.Name, err, p.LogTail(40))
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready within %v\nlog tail:\n%s", p.Name, timeout, p.LogTail(40))
		}
		time.Sleep(pause)
		pause = min(2*pause, 50*time.Millisecond)
	}
	return nil
}

// BindConflict reports whether err is a start that failed because a port
// was taken ("address already in use"), which a fresh port mends.
func BindConflict(err error) bool {
	return err != nil && strings.Contains(err.Error(), "address already in use")
}

// Kill ends the process with SIGKILL (a crash) and waits until it is gone.
func (p *Process) Kill() { _ = p.signal(syscall.SIGKILL, time.Minute) }

// Stop sends SIGTERM and waits up to timeout for the process to exit; then
// it kills it. It returns the exit error, or that it had to kill.
func (p *Process) Stop(timeout time.Duration) error { return p.signal(syscall.SIGTERM, timeout) }

func (p *Process) signal(sig syscall.Signal, timeout time.Duration) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return nil
	}
	_ = p.cmd.Process.Signal(sig)
	var err error
	select {
	case err = <-p.exited:
	case <-time.After(timeout):
		_ = p.cmd.Process.Kill()
		<-p.exited
		err = fmt.Errorf("%s did not exit within %s after %v; killed", p.Name, timeout, sig)
	}
	p.cmd, p.exited = nil, nil
	if sig == syscall.SIGKILL {
		return nil
	}
	return err
}

// Pid returns the running process's ID (0 when not running), e.g. for a
// reload command that signals it.
func (p *Process) Pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

// Running reports whether the process was started and not stopped.
func (p *Process) Running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cmd != nil
}

// Output returns what the current (or last) incarnation has written.
func (p *Process) Output() string {
	p.mu.Lock()
	from := p.from
	p.mu.Unlock()
	data, err := os.ReadFile(p.Log)
	if err != nil || int64(len(data)) < from {
		return ""
	}
	return string(data[from:])
}

// Match returns the first match of re, with its submatches, in the current
// incarnation's output, or nil. A Ready function can use it to read an
// address the process announces after binding port 0.
func (p *Process) Match(re *regexp.Regexp) []string {
	return re.FindStringSubmatch(p.Output())
}

// LogTail returns the last n lines of the log (every incarnation).
func (p *Process) LogTail(n int) string {
	data, err := os.ReadFile(p.Log)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	return tail(data, n)
}

// tail returns the last n lines of data.
func tail(data []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// TCPOpen returns a Ready function: addr accepts a TCP connection.
func TCPOpen(addr string) func() bool {
	return func() bool {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err != nil {
			return false
		}
		c.Close()
		return true
	}
}

// HTTPStatus returns a Ready function: a GET of url answers status.
func HTTPStatus(url string, status int) func() bool {
	client := &http.Client{Timeout: time.Second}
	return func() bool {
		resp, err := client.Get(url)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == status
	}
}
