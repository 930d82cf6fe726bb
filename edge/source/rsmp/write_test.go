package rsmp

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ponte-city/ponte/edge/sim"
	"github.com/ponte-city/ponte/edge/source"
	"github.com/ponte-city/ponte/internal/profile"
	"github.com/ponte-city/ponte/internal/testenv"
	"github.com/ponte-city/ponte/wire"
)

// simSite starts ponte-sim's RSMP traffic light controller (written from
// the spec on its own, edge/sim/rsmp.go) and a source supervising it with
// the shipped profile; it returns the site, the source and the readings.
func simSite(t *testing.T, code string) (*sim.RSMPSite, *Source, *recorder) {
	t.Helper()
	logs := lockedBuffer{}
	t.Cleanup(func() {
		if code != "" && strings.Contains(logs.String(), code) {
			t.Errorf("the source's logs show the security code:\n%s", logs.String())
		}
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	site := sim.NewRSMPSite(sim.RSMPSiteConfig{SiteID: "AB+84001=860TC001", SecurityCode: "1357", CalendarPlan: 2, Log: testenv.Logger(t, -4)})
	siteDone := make(chan struct{})
	go func() { defer close(siteDone); _ = site.Serve(ctx, ln) }()
	p, err := profile.Load("../../../firmware-profiles/rsmp-tlc-sxl-1.2.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dev := source.Device{Name: "tlc-1", Profile: p, Address: "rsmp://" + ln.Addr().String() + "?site=AB%2B84001=860TC001",
		Interval: 100 * time.Millisecond, Timeout: 2 * time.Second, SecurityCode: code}
	t.Cleanup(func() { cancel(); <-siteDone })
	src, rec, _ := runSource(t, Config{Devices: []source.Device{dev}, Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	testenv.Eventually(t, 10*time.Second, "the calendar's plan read from S0014", func() bool {
		r, ok := rec.last("time_plan")
		return ok && r.Quality.Good() && r.Value == wire.Int(2)
	})
	return site, src, rec
}

// lockedBuffer is a log sink safe for the source's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func rules(t *testing.T, src *Source) *profile.Write {
	return &src.devices[0].prof.Command("plan_request").Write
}

// TestPlanRequest: M0002 through the simulated site: a plan is forced and
// read back from S0014, the release hands the plan back to the calendar,
// a wrong security code is refused with the site's reason, and a plan
// the site does not have is refused by it too.
func TestPlanRequest(t *testing.T) {
	site, src, rec := simSite(t, "1357")
	ctx := context.Background()
	w := rules(t, src)

	rb, err := src.WritePoint(ctx, source.WriteRequest{Device: "tlc-1", Point: "plan_request", Value: 5, Rules: w})
	if err != nil || rb != 5 {
		t.Fatalf("plan 5: read back %v, %v", rb, err)
	}
	if plan, from := site.Plan(); plan != 5 || from != "forced" {
		t.Fatalf("site runs plan %d (%s), want 5 (forced)", plan, from)
	}
	testenv.Eventually(t, 10*time.Second, "plan_source forced in the readings", func() bool {
		r, ok := rec.last("plan_source")
		return ok && r.Value == wire.String("forced")
	})

	rb, err = src.WritePoint(ctx, source.WriteRequest{Device: "tlc-1", Point: "plan_request", Value: 0, Rules: w})
	if err != nil || rb != 0 {
		t.Fatalf("release: read back %v, %v", rb, err)
	}
	if plan, from := site.Plan(); plan != 2 || from != "calendar_clock" {
		t.Fatalf("after the release the site runs plan %d (%s), want 2 (calendar_clock)", plan, from)
	}

	_, err = src.WritePoint(ctx, source.WriteRequest{Device: "tlc-1", Point: "plan_request", Value: 300, Rules: w})
	if err == nil || !strings.Contains(err.Error(), `refused by the site: timeplan "300": expected an integer from 1 to 255`) {
		t.Fatalf("plan 300: %v, want the site's refusal", err)
	}

	_, err = src.WritePoint(ctx, source.WriteRequest{Device: "tlc-2", Point: "plan_request", Value: 3})
	if !errors.Is(err, source.ErrUnknownDevice) {
		t.Fatalf("unknown device: %v", err)
	}
	_, err = src.WritePoint(ctx, source.WriteRequest{Device: "tlc-1", Point: "time_plan", Value: 3})
	if err == nil || !strings.Contains(err.Error(), "time_plan is not a command of its profile") {
		t.Fatalf("a status written: %v", err)
	}
	_, err = src.WritePoint(ctx, source.WriteRequest{Device: "tlc-1", Point: "plan_request", Value: 3, Rules: w, Expires: time.Now().Add(-time.Second)})
	if !errors.Is(err, source.ErrExpired) {
		t.Fatalf("expired: %v", err)
	}
}

func TestPlanRequestWrongSecurityCode(t *testing.T) {
	site, src, _ := simSite(t, "9999")
	_, err := src.WritePoint(context.Background(), source.WriteRequest{Device: "tlc-1", Point: "plan_request", Value: 4, Rules: rules(t, src)})
	if err == nil || !strings.HasSuffix(err.Error(), "M0002 setPlan refused by the site: Incorrect security code") {
		t.Fatalf("error %v, want the site's refusal", err)
	}
	if strings.Contains(err.Error(), "9999") {
		t.Fatalf("the error shows the security code: %v", err)
	}
	if plan, _ := site.Plan(); plan != 2 {
		t.Fatalf("the site runs plan %d after a refused command, want 2", plan)
	}
}

func TestPlanRequestWithoutSecurityCode(t *testing.T) {
	_, src, _ := simSite(t, "")
	_, err := src.WritePoint(context.Background(), source.WriteRequest{Device: "tlc-1", Point: "plan_request", Value: 4, Rules: rules(t, src)})
	if err == nil || !strings.Contains(err.Error(), "the site config gives none (security_code_file or security_code_env): not written") {
		t.Fatalf("error %v", err)
	}
}
