package rsmp

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ponte-city/ponte/edge/source"
	"github.com/ponte-city/ponte/internal/profile"
	"github.com/ponte-city/ponte/wire"
)

// testProfile is a small rsmp profile: three statuses, one command.
const testProfile = `
model: test controller
manufacturer: test
source: test
category: signal
kind: rsmp
rsmp:
  sxl: "1.2.1"
  versions: ["3.1.5", "3.2.2"]
  statuses:
    - {name: time_plan, sci: S0014, n: status, type: int, range: {min: 1, max: 255}}
    - {name: plan_source, sci: S0014, n: source, type: string}
    - {name: switched_on, sci: S0007, n: status, type: bool}
  commands:
    - name: plan_request
      cci: M0002
      co: setPlan
      value: timeplan
      security_code: securityCode
      arguments: {status: "True"}
      release: {value: 0, arguments: {status: "False"}, readback: plan_source, equals: calendar_clock}
      write: {min: 0, max: 255, step: 1, readback: time_plan, approval: true}
`

func loadTestProfile(t *testing.T) *profile.Profile {
	t.Helper()
	p, err := profile.Parse("test.yaml", []byte(testProfile))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// peer is a scripted RSMP site on a loopback listener, for unit tests of
// the supervisor: each test says what the site sends and checks what it
// receives.
type peer struct {
	t    *testing.T
	ln   net.Listener
	conn net.Conn
	fr   *Framer
	// stopping: the test is stopping the source; a failed write is
	// expected then.
	stopping atomic.Bool
}

func newPeer(t *testing.T) *peer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return &peer{t: t, ln: ln}
}

// device is a source.Device supervising the peer as site siteID.
func (p *peer) device(t *testing.T, siteID string) source.Device {
	return source.Device{Name: "tlc-1", Profile: loadTestProfile(t), Address: "rsmp://" + p.ln.Addr().String() + "?site=" + siteID,
		Interval: 50 * time.Millisecond, Timeout: 2 * time.Second, SecurityCode: "2468"}
}

// accept waits for the supervisor's connection.
func (p *peer) accept() {
	p.t.Helper()
	p.ln.(*net.TCPListener).SetDeadline(time.Now().Add(10 * time.Second))
	c, err := p.ln.Accept()
	if err != nil {
		p.t.Fatalf("no connection from the supervisor: %v", err)
	}
	p.t.Cleanup(func() { c.Close() })
	p.conn, p.fr = c, NewFramer(c, 0)
}

// send sends m (mType added, and a new mId unless m has one or is an ack)
// and returns its mId.
func (p *peer) send(m map[string]any) string {
	p.t.Helper()
	m["mType"] = "rSMsg"
	if _, ok := m["mId"]; !ok && m["type"] != TypeMessageAck && m["type"] != TypeMessageNotAck {
		m["mId"] = newMID()
	}
	b, _ := json.Marshal(m)
	p.raw(string(b))
	id, _ := m["mId"].(string)
	return id
}

func (p *peer) raw(s string) {
	p.t.Helper()
	if _, err := p.conn.Write(append([]byte(s), FormFeed)); err != nil && !p.stopping.Load() {
		p.t.Fatalf("peer write: %v", err)
	}
}

// recv returns the next message from the supervisor.
func (p *peer) recv() map[string]any {
	p.t.Helper()
	m, err := p.tryRecv()
	if err != nil {
		p.t.Fatalf("peer read: %v", err)
	}
	return m
}

// tryRecv returns the next message, or why there is none.
func (p *peer) tryRecv() (map[string]any, error) {
	p.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	data, err := p.fr.Next()
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("supervisor sent invalid JSON %q: %v", data, err)
	}
	return m, nil
}

// expect returns the next message, which must be of type typ.
func (p *peer) expect(typ string) map[string]any {
	p.t.Helper()
	m := p.recv()
	if m["type"] != typ {
		p.t.Fatalf("supervisor sent %v, want %s: %v", m["type"], typ, m)
	}
	return m
}

func (p *peer) ack(m map[string]any) {
	p.send(map[string]any{"type": TypeMessageAck, "oMId": m["mId"]})
}

// version is the site's Version message.
func version(siteID, sxl string, versions ...string) map[string]any {
	var rs []map[string]string
	for _, v := range versions {
		rs = append(rs, map[string]string{"vers": v})
	}
	return map[string]any{"type": TypeVersion, "RSMP": rs, "siteId": []map[string]string{{"sId": siteID}}, "SXL": sxl}
}

// handshake plays the site's side of the establishment.
func (p *peer) handshake(siteID string) {
	p.t.Helper()
	vid := p.send(version(siteID, "1.2.1", "3.1.4", "3.1.5", "3.2.2"))
	if a := p.expect(TypeMessageAck); a["oMId"] != vid {
		p.t.Fatalf("ack of %v, want of the Version %s", a["oMId"], vid)
	}
	v := p.expect(TypeVersion)
	p.ack(v)
	wd := p.send(map[string]any{"type": TypeWatchdog, "wTs": timestamp(time.Now())})
	if a := p.expect(TypeMessageAck); a["oMId"] != wd {
		p.t.Fatalf("ack of %v, want of the Watchdog %s", a["oMId"], wd)
	}
	p.ack(p.expect(TypeWatchdog))
}

// statusResponse answers a StatusRequest with values, a map sCI/n ->
// [s, q] (s nil for null).
func (p *peer) statusResponse(req map[string]any, values map[string][2]any) {
	var ss []map[string]any
	for _, it := range req["sS"].([]any) {
		r := it.(map[string]any)
		key := r["sCI"].(string) + "/" + r["n"].(string)
		v, ok := values[key]
		if !ok {
			continue
		}
		ss = append(ss, map[string]any{"sCI": r["sCI"], "n": r["n"], "s": v[0], "q": v[1]})
	}
	p.send(map[string]any{"type": TypeStatusResponse, "ntsOId": "", "xNId": "", "cId": req["cId"], "sTs": timestamp(time.Now()), "sS": ss})
}

// recorder collects the readings a source emits.
type recorder struct {
	mu sync.Mutex
	rs []wire.Reading
}

func (r *recorder) emit(rs []wire.Reading) source.Commit {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rs = append(r.rs, rs...)
	return nil
}

// last returns the latest reading of point, and whether there is one.
func (r *recorder) last(point string) (wire.Reading, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := len(r.rs) - 1; i >= 0; i-- {
		if r.rs[i].Point == point {
			return r.rs[i], true
		}
	}
	return wire.Reading{}, false
}

// runSource runs a source of cfg until stop (or the test's end) and
// returns it with the readings it emits.
func runSource(t *testing.T, cfg Config) (*Source, *recorder, func()) {
	t.Helper()
	src, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	rec := &recorder{}
	stopped := make(chan struct{})
	go func() { defer close(stopped); _ = src.Run(ctx, rec.emit) }()
	var once sync.Once
	stop := func() { once.Do(func() { cancel(); <-stopped }) }
	t.Cleanup(stop)
	return src, rec, stop
}
