package influxtest

import (
	"fmt"
	"net/http"

	"github.com/ponte-city/ponte/internal/testenv"
)

// Start starts the server (again) on its port and data directory and waits
// until it answers /ping and the database exists. It does nothing if the
// server is running.
func (s *Server) Start() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc.Running() {
		return
	}
	s.proc.Start()
	s.post(fmt.Sprintf("CREATE DATABASE %q", s.DB))
}

// Stop kills the server (SIGKILL: a crash, not a clean shutdown) and waits
// until the process is gone. Writes InfluxDB acknowledged before are in its
// WAL and come back on Start.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.proc.Kill()
}

// Running reports whether the server process was started and not stopped.
func (s *Server) Running() bool { return s.proc.Running() }

// Pid is influxd's process ID while it runs (for its CPU time or memory).
func (s *Server) Pid() int { return s.proc.Pid() }

// pingOK is the readiness check: /ping answers 204.
func (s *Server) pingOK() func() bool {
	return testenv.HTTPStatus(s.URL+"/ping", http.StatusNoContent)
}
