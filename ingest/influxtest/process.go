package influxtest

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"time"
)

// Start starts the server (again) on its port and data directory and waits
// until it answers /ping and the database exists. It does nothing if the
// server is running.
func (s *Server) Start() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return
	}
	logf, err := os.OpenFile(s.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		s.t.Fatalf("open influxd log: %v", err)
	}
	cmd := exec.Command(s.bin, "-config", s.conf)
	cmd.Stdout, cmd.Stderr = logf, logf
	err = cmd.Start()
	logf.Close() // the child holds its own descriptor
	if err != nil {
		s.t.Fatalf("start influxd %s: %v", s.bin, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	s.cmd, s.exited = cmd, exited
	if err := s.waitReady(); err != nil {
		s.kill()
		s.t.Fatalf("influxd on port %d: %v\nlog tail:\n%s", s.Port, err, s.logTail(40))
	}
	s.post(fmt.Sprintf("CREATE DATABASE %q", s.DB))
}

// waitReady polls /ping until it answers 204, the process exits or
// readyTimeout passes.
func (s *Server) waitReady() error {
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(readyTimeout)
	for time.Now().Before(deadline) {
		select {
		case err := <-s.exited:
			s.exited <- err // Stop and kill still wait on it
			return fmt.Errorf("influxd exited during start: %v", err)
		default:
		}
		resp, err := client.Get(s.URL + "/ping")
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusNoContent {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("no 204 from %s/ping within %s", s.URL, readyTimeout)
}

// Stop kills the server (SIGKILL: a crash, not a clean shutdown) and waits
// until the process is gone. Writes InfluxDB acknowledged before are in its
// WAL and come back on Start.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.kill()
}

// kill ends the process; s.mu is held.
func (s *Server) kill() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.exited
	s.cmd, s.exited = nil, nil
}

// Running reports whether the server process was started and not stopped.
func (s *Server) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cmd != nil
}

// logTail returns the last n lines of influxd's log.
func (s *Server) logTail(n int) string {
	data, err := os.ReadFile(s.log)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
