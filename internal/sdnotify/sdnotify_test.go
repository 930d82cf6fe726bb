package sdnotify

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// listen makes a fake systemd notify socket and points NOTIFY_SOCKET at it.
func listen(t *testing.T) *net.UnixConn {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	t.Setenv("NOTIFY_SOCKET", path)
	return conn
}

// receive reads the next message, failing the test after a minute.
func receive(t *testing.T, conn *net.UnixConn) string {
	t.Helper()
	if err := conn.SetReadDeadline(time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 256)
	n, err := conn.Read(b)
	if err != nil {
		t.Fatalf("no message from Run: %v", err)
	}
	return string(b[:n])
}

// TestReadyWatchdogStopping drives the health check answer by answer: no
// message before the first healthy answer, then READY=1, WATCHDOG=1 for
// each healthy answer and none for an unhealthy one, STOPPING=1 at the end.
func TestReadyWatchdogStopping(t *testing.T) {
	conn := listen(t)
	t.Setenv("WATCHDOG_USEC", "20000")
	t.Setenv("WATCHDOG_PID", "")
	answers := make(chan bool)
	healthy := func(ctx context.Context) bool {
		select {
		case ok := <-answers:
			return ok
		case <-ctx.Done():
			return false
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, Config{Healthy: healthy, Poll: time.Millisecond}) }()

	for _, ok := range []bool{false, false, true, true, false, false, true} {
		answers <- ok
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	var got []string
	for range 4 {
		got = append(got, receive(t, conn))
	}
	want := []string{"READY=1", "WATCHDOG=1", "WATCHDOG=1", "STOPPING=1"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("messages %q, want %q", got, want)
	}
	if err := conn.SetReadDeadline(time.Now()); err != nil {
		t.Fatal(err)
	}
	if n, err := conn.Read(make([]byte, 256)); err == nil {
		t.Fatalf("an extra message after STOPPING=1 (%d bytes)", n)
	}
}

// TestNoWatchdog: without WATCHDOG_USEC, READY=1 and then only STOPPING=1.
func TestNoWatchdog(t *testing.T) {
	conn := listen(t)
	t.Setenv("WATCHDOG_USEC", "")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, Config{Healthy: func(context.Context) bool { return true }}) }()
	if got := receive(t, conn); got != "READY=1" {
		t.Fatalf("first message %q, want READY=1", got)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if got := receive(t, conn); got != "STOPPING=1" {
		t.Fatalf("second message %q, want STOPPING=1", got)
	}
}

// TestNoSocket: outside systemd Run returns at once, without checking.
func TestNoSocket(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	called := false
	err := Run(context.Background(), Config{Healthy: func(context.Context) bool { called = true; return true }})
	if err != nil || called {
		t.Fatalf("Run = %v, health checked %v; want nil, false", err, called)
	}
}

// TestSocketGone: a socket that refuses the message is an error naming it.
func TestSocketGone(t *testing.T) {
	path := filepath.Join(t.TempDir(), "none")
	t.Setenv("NOTIFY_SOCKET", path)
	err := Run(context.Background(), Config{Healthy: func(context.Context) bool { return true }})
	if err == nil || !strings.Contains(err.Error(), "READY=1") || !strings.Contains(err.Error(), path) {
		t.Fatalf("Run = %v, want an error naming READY=1 and %s", err, path)
	}
}

func TestValidate(t *testing.T) {
	err := Run(context.Background(), Config{Poll: -time.Second})
	if err == nil || !strings.Contains(err.Error(), "healthy: required") || !strings.Contains(err.Error(), "poll -1s is negative") {
		t.Fatalf("Run = %v, want both config errors", err)
	}
}

func TestHTTPCheck(t *testing.T) {
	status := http.StatusServiceUnavailable
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(status) }))
	defer srv.Close()
	check := HTTPCheck(srv.URL + "/readyz")
	if check(context.Background()) {
		t.Fatal("503 is healthy")
	}
	status = http.StatusOK
	if !check(context.Background()) {
		t.Fatal("200 is not healthy")
	}
	srv.Close()
	if check(context.Background()) {
		t.Fatal("a closed server is healthy")
	}
}
