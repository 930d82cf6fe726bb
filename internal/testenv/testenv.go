package testenv

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Need fails t unless the program name is on PATH (or at one of the usual
// sbin places); it returns the program's path.
func Need(t testing.TB, name, install string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, dir := range []string{"/usr/sbin", "/sbin", "/usr/local/sbin"} {
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p
		}
	}
	t.Fatalf("%s is not installed; this integration test needs the real thing (%s)", name, install)
	return ""
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Broker is a Mosquitto broker run by a test.
type Broker struct {
	t    testing.TB
	bin  string
	conf string
	Port int
	// URL is "tcp://127.0.0.1:PORT", for paho.
	URL string

	log *os.File

	mu  sync.Mutex
	cmd *exec.Cmd
}

// tail returns the last n lines of data.
func tail(data []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Mosquitto starts a Mosquitto broker on a free loopback port with
// anonymous access and persistence off, stopped when the test ends.
func Mosquitto(t testing.TB) *Broker {
	t.Helper()
	bin := Need(t, "mosquitto", "apt-get install mosquitto")
	port := FreePort(t)
	dir := t.TempDir()
	conf := filepath.Join(dir, "mosquitto.conf")
	cfg := fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true\npersistence false\nmax_queued_messages 100000\n", port)
	if err := os.WriteFile(conf, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(filepath.Join(dir, "mosquitto.log"))
	if err != nil {
		t.Fatal(err)
	}
	b := &Broker{t: t, bin: bin, conf: conf, log: logf, Port: port, URL: fmt.Sprintf("tcp://127.0.0.1:%d", port)}
	b.Start()
	t.Cleanup(func() {
		b.Stop()
		logf.Close()
		if t.Failed() {
			if data, err := os.ReadFile(logf.Name()); err == nil {
				t.Logf("mosquitto log:\n%s", tail(data, 40))
			}
		}
	})
	return b
}

// Start starts the broker (again) on its port and waits until it accepts
// connections.
func (b *Broker) Start() {
	b.t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cmd != nil {
		return
	}
	cmd := exec.Command(b.bin, "-c", b.conf)
	cmd.Stdout, cmd.Stderr = b.log, b.log
	if err := cmd.Start(); err != nil {
		b.t.Fatalf("start mosquitto: %v", err)
	}
	b.cmd = cmd
	addr := "127.0.0.1:" + strconv.Itoa(b.Port)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	b.t.Fatalf("mosquitto did not listen on %s within 10s", addr)
}

// Stop kills the broker (SIGKILL: a crash, not a clean shutdown).
func (b *Broker) Stop() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cmd == nil {
		return
	}
	_ = b.cmd.Process.Kill()
	_ = b.cmd.Wait()
	b.cmd = nil
}

// Restart kills the broker and starts it again after down.
func (b *Broker) Restart(down time.Duration) {
	b.t.Helper()
	b.Stop()
	time.Sleep(down)
	b.Start()
}

var ptyRe = regexp.MustCompile(`PTY is (\S+)`)

// PtyPair starts socat joining two pseudo-terminals back to back, as a
// null-modem cable would, and returns their device paths. socat is stopped
// when the test ends.
func PtyPair(t testing.TB) (a, b string) {
	t.Helper()
	bin := Need(t, "socat", "apt-get install socat")
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "-d", "-d", "pty,raw,echo=0", "pty,raw,echo=0")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start socat: %v", err)
	}
	t.Cleanup(func() { cancel(); _ = cmd.Wait() })
	found := make(chan string, 2)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := ptyRe.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
			}
		}
	}()
	var paths []string
	timeout := time.After(10 * time.Second)
	for len(paths) < 2 {
		select {
		case p := <-found:
			paths = append(paths, p)
		case <-timeout:
			t.Fatalf("socat did not report two ptys within 10s (got %v)", paths)
		}
	}
	// socat reports the ptys before it starts relaying; give it a moment.
	time.Sleep(100 * time.Millisecond)
	return paths[0], paths[1]
}
