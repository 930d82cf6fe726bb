package testenv

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago, for
// a program that must be told its port. It is drawn at random below the
// kernel's ephemeral range (net.ipv4.ip_local_port_range), where neither
// outgoing connections nor another test's port 0 can take it between the
// probe and the program's bind; a caller that starts a program still
// retries on a bind conflict (BindConflict), as two tests may draw the same.
func FreePort(t testing.TB) int {
	t.Helper()
	lo := ephemeralLow()
	const floor = 10000
	for range 200 {
		if lo-floor < 1000 {
			break
		}
		port := floor + rand.IntN(lo-floor)
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			l.Close()
			return port
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// ephemeralLow is the first port of the kernel's ephemeral range (Linux's
// default 32768 where it cannot be read).
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 32768
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return 32768
	}
	lo, err := strconv.Atoi(f[0])
	if err != nil {
		return 32768
	}
	return lo
}

// Broker is a Mosquitto broker run by a test.
type Broker struct {
	Port int
	// URL is "tcp://127.0.0.1:PORT", for paho.
	URL string

	proc *Process
}

// Mosquitto starts a Mosquitto broker on a free loopback port with
// anonymous access and persistence off, stopped when the test ends.
func Mosquitto(t testing.TB) *Broker {
	t.Helper()
	return MosquittoWith(t, "allow_anonymous true\nmax_queued_messages 100000\n")
}

// MosquittoWith starts a Mosquitto broker on a free loopback port with
// persistence off and conf (mosquitto.conf lines: authentication, ACLs,
// limits) after the listener line, stopped when the test ends. (The port
// is probed free and then given to Mosquitto: it cannot bind port 0 and
// say which port it got.)
func MosquittoWith(t testing.TB, conf string) *Broker {
	t.Helper()
	bin := Need(t, "mosquitto", "apt-get install mosquitto")
	for attempt := 1; ; attempt++ {
		port := FreePort(t)
		path := filepath.Join(t.TempDir(), "mosquitto.conf")
		cfg := fmt.Sprintf("listener %d 127.0.0.1\npersistence false\n%s", port, conf)
		if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
			t.Fatal(err)
		}
		b := &Broker{Port: port, URL: fmt.Sprintf("tcp://127.0.0.1:%d", port), proc: NewProcess(t, "mosquitto", bin, "-c", path)}
		b.proc.Ready = TCPOpen(fmt.Sprintf("127.0.0.1:%d", port))
		b.proc.ReadyTimeout = 10 * time.Second
		err := b.proc.TryStart()
		if err == nil {
			return b
		}
		if !BindConflict(err) || attempt == 3 {
			t.Fatal(err)
		}
	}
}

// Start starts the broker (again) on its port and waits until it accepts
// connections.
func (b *Broker) Start() { b.proc.Start() }

// Pid returns the broker's process ID (0 when stopped).
func (b *Broker) Pid() int { return b.proc.Pid() }

// Stop kills the broker (SIGKILL: a crash, not a clean shutdown).
func (b *Broker) Stop() { b.proc.Kill() }

// Restart kills the broker and starts it again after down.
func (b *Broker) Restart(down time.Duration) {
	b.Stop()
	time.Sleep(down) // the outage itself
	b.Start()
}

var (
	ptyRe      = regexp.MustCompile(`PTY is (\S+)`)
	relayingRe = regexp.MustCompile(`starting data transfer loop`)
)

// PtyPair starts socat joining two pseudo-terminals back to back, as a
// null-modem cable would, and returns their device paths once socat
// relays between them. socat is stopped when the test ends.
func PtyPair(t testing.TB) (a, b string) {
	t.Helper()
	bin := Need(t, "socat", "apt-get install socat")
	p := NewProcess(t, "socat", bin, "-d", "-d", "pty,raw,echo=0", "pty,raw,echo=0")
	p.ReadyTimeout = 10 * time.Second
	// socat names the ptys before it relays; it logs when it starts to.
	p.Ready = func() bool { return p.Match(relayingRe) != nil }
	p.Start()
	paths := ptyRe.FindAllStringSubmatch(p.Output(), -1)
	if len(paths) != 2 {
		t.Fatalf("socat reported %d ptys, want 2:\n%s", len(paths), p.Output())
	}
	return paths[0][1], paths[1][1]
}
