package ctl

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ponte-city/ponte/edge/agent"
	"github.com/ponte-city/ponte/edge/command"
	"github.com/ponte-city/ponte/wire"
)

// TestStatus: the technician's view of a running agent names a device
// ingest refuses, with the offending value and why, and exits 1.
func TestStatus(t *testing.T) {
	at := time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC)
	st := agent.Status{Gateway: "fi-q2", Version: "test", Uplink: agent.UplinkStatus{Broker: "tcp://ingest:1883", Connected: true},
		Devices: []agent.DeviceStatus{
			{Name: "meter-1", State: agent.StateOK, Readings: 40},
			{Name: "bay-1", State: agent.StateRefused, Readings: 12, Refused: &agent.RefusedStatus{Readings: 12,
				Reason: "time_out_of_range", Detail: "accepted 2026-11-05T09:00:00Z to 2026-12-05T09:05:00Z",
				Point: "occupied", Value: "true", Time: at.Add(time.Hour), At: at}},
		},
		Commands: []command.Entry{{ID: "c-2", Device: "lamp-1", Point: "line_level", Value: 120, Status: wire.StatusRefused,
			Detail: "value 120 is above the maximum 100 %", At: at}}}
	body, _ := json.Marshal(st)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/status" {
			http.NotFound(w, r)
			return
		}
		w.Write(body)
	}))
	defer srv.Close()

	var out, errOut bytes.Buffer
	code := Run(context.Background(), Env{Stdout: &out, Stderr: &errOut}, []string{"status", "--url", srv.URL})
	if code != ExitFail {
		t.Errorf("exit %d, want %d (a device is refused)", code, ExitFail)
	}
	for _, want := range []string{"gateway fi-q2", "c-2      2026-12-05T09:00:00Z  lamp-1  line_level  120    refused  value 120 is above the maximum 100 %", "connected to tcp://ingest:1883", "meter-1", "bay-1", "refused", "ingest refused occupied=true at 2026-12-05T10:00:00Z: time_out_of_range (accepted 2026-11-05"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}

	out.Reset()
	if code := Run(context.Background(), Env{Stdout: &out, Stderr: &errOut}, []string{"status", "--url", srv.URL, "--json"}); code != ExitFail || !json.Valid(out.Bytes()) {
		t.Errorf("--json: exit %d, %q", code, out.String())
	}

	errOut.Reset()
	srv.Close()
	if code := Run(context.Background(), Env{Stdout: &out, Stderr: &errOut}, []string{"status", "--url", srv.URL, "--timeout", "2s"}); code != ExitFail || !strings.Contains(errOut.String(), "is ponte-edge running?") {
		t.Errorf("no agent: exit %d, %q", code, errOut.String())
	}
	if code := Run(context.Background(), Env{Stdout: &out, Stderr: &errOut}, []string{"status", "extra"}); code != ExitUsage {
		t.Errorf("stray argument: exit %d", code)
	}
}
