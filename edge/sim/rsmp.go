package sim

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
)

// RSMP traffic light controller site (issue 16). Written from the RSMP
// core specification 3.2.2 and the SXL for traffic light controllers
// 1.2.1, not from Ponte's supervisor (edge/source/rsmp), so that the
// tests run the supervisor against a peer that reads the documents on
// its own. The site is a socket server (Ponte's edge dials the
// controller); after the TCP connection it behaves as the spec's site:
//
//   - every message is JSON ended by a form feed 0x0C ("Wrapping of
//     packets");
//   - it sends its Version first, checks the supervisor's (site ID, SXL,
//     a common RSMP version), sends its Watchdog, waits for the
//     supervisor's, then sends an AggregatedStatus ("Communication
//     establishment between sites and supervision system"); a mismatch
//     is a MessageNotAck with a reason, then the connection is closed;
//   - before the Version exchange it acknowledges nothing else;
//   - it acknowledges every message; a message it cannot parse gets a
//     MessageNotAck;
//   - StatusRequest: unknown component -> q "undefined", s null; unknown
//     sCI or n -> MessageNotAck ("Error handling", "SXL mismatch");
//   - CommandRequest M0002 (setPlan): every argument required ("Incomplete
//     commands"), a wrong securityCode -> MessageNotAck "Incorrect security
//     code" (SXL "Security codes"), status True forces timeplan, False
//     returns to the calendar's plan; S0014 then reads the plan and its
//     source (forced / calendar_clock).

// RSMPSiteConfig configures the simulated site.
type RSMPSiteConfig struct {
	// SiteID is announced in the Version (sId); Component is the
	// controller's component ID (default SiteID).
	SiteID, Component string
	// SXL is the SXL revision announced (default "1.2.1").
	SXL string
	// Versions are the RSMP versions supported (default 3.1.5 to 3.2.2).
	Versions []string
	// SecurityCode is security code 2, asked by M0002.
	SecurityCode string
	// CalendarPlan is the plan the calendar selects (default 1).
	CalendarPlan int
	// Watchdog is the site's watchdog interval (default 1 minute).
	Watchdog time.Duration
	// Log receives the site's events; nil discards.
	Log *slog.Logger
}

// RSMPSite is a simulated RSMP traffic light controller. It is safe for
// concurrent use.
type RSMPSite struct {
	cfg   RSMPSiteConfig
	start time.Time

	mu       sync.Mutex
	plan     int    // S0014 status
	source   string // S0014 source
	commands int    // M0002 applied
}

// NewRSMPSite returns a site following its calendar's plan.
func NewRSMPSite(cfg RSMPSiteConfig) *RSMPSite {
	if cfg.Component == "" {
		cfg.Component = cfg.SiteID
	}
	if cfg.SXL == "" {
		cfg.SXL = "1.2.1"
	}
	if len(cfg.Versions) == 0 {
		cfg.Versions = []string{"3.1.5", "3.2.0", "3.2.1", "3.2.2"}
	}
	if cfg.CalendarPlan == 0 {
		cfg.CalendarPlan = 1
	}
	if cfg.Watchdog <= 0 {
		cfg.Watchdog = time.Minute
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	return &RSMPSite{cfg: cfg, start: time.Now(), plan: cfg.CalendarPlan, source: "calendar_clock"}
}

// Plan returns the plan in force and its source.
func (s *RSMPSite) Plan() (int, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.plan, s.source
}

// Serve accepts supervisors on ln until ctx ends; each connection is
// served on its own (the spec asks sites to serve several supervisors).
func (s *RSMPSite) Serve(ctx context.Context, ln net.Listener) error {
	go func() { <-ctx.Done(); ln.Close() }()
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		conn, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("rsmp site: accept: %w", err)
		}
		wg.Go(func() {
			defer conn.Close()
			stop := context.AfterFunc(ctx, func() { conn.Close() })
			defer stop()
			err := s.serveConn(ctx, conn)
			s.cfg.Log.Info("rsmp supervisor disconnected", "remote", conn.RemoteAddr().String(), "reason", err)
		})
	}
}

// siteConn is one supervisor's connection.
type siteConn struct {
	s      *RSMPSite
	conn   net.Conn
	rd     *bufio.Reader
	wmu    sync.Mutex
	inited bool // the Version exchange is done
}

func (s *RSMPSite) serveConn(ctx context.Context, conn net.Conn) error {
	c := &siteConn{s: s, conn: conn, rd: bufio.NewReader(conn)}
	s.cfg.Log.Info("rsmp supervisor connected", "remote", conn.RemoteAddr().String())
	// 1. The site sends its Version.
	vid := uuid4()
	rsmp := []map[string]string{}
	for _, v := range s.cfg.Versions {
		rsmp = append(rsmp, map[string]string{"vers": v})
	}
	if err := c.send(map[string]any{"mType": "rSMsg", "type": "Version", "mId": vid, "RSMP": rsmp,
		"siteId": []map[string]string{{"sId": s.cfg.SiteID}}, "SXL": s.cfg.SXL}); err != nil {
		return err
	}
	var acked, supVersion, supWatchdog bool
	var wdID string
	for {
		msg, raw, err := c.next()
		if err != nil {
			return err
		}
		if msg == nil { // unparseable
			if id := rawMID(raw); id != "" && c.inited {
				_ = c.notAck(id, "invalid JSON")
			}
			continue
		}
		typ, _ := msg["type"].(string)
		mid, _ := msg["mId"].(string)
		switch {
		case typ == "MessageAck" && msg["oMId"] == vid:
			acked = true
		case typ == "MessageNotAck" && msg["oMId"] == vid:
			return fmt.Errorf("supervisor refused the Version: %v", msg["rea"])
		case typ == "Version" && !supVersion:
			if rea := s.checkVersion(msg); rea != "" {
				_ = c.notAck(mid, rea)
				return errors.New(rea)
			}
			supVersion = true
			if err := c.ack(mid); err != nil {
				return err
			}
			c.inited = true
			wdID = uuid4()
			// 6. The site sends a Watchdog.
			if err := c.send(map[string]any{"mType": "rSMsg", "type": "Watchdog", "mId": wdID, "wTs": rsmpTime(time.Now())}); err != nil {
				return err
			}
		case typ == "Watchdog" && c.inited:
			if err := c.ack(mid); err != nil {
				return err
			}
			supWatchdog = true
		case typ == "MessageAck" || typ == "MessageNotAck":
		case !c.inited:
			// Nothing but the Version is acknowledged before the exchange.
		default:
			if err := c.ack(mid); err != nil {
				return err
			}
		}
		if acked && supVersion && supWatchdog {
			break
		}
	}
	// 9. Aggregated status of the TLC (state bit 6: connected, normal, in use).
	if err := c.send(map[string]any{"mType": "rSMsg", "type": "AggregatedStatus", "mId": uuid4(),
		"ntsOId": "", "xNId": "", "cId": s.cfg.Component, "aSTS": rsmpTime(time.Now()), "fP": nil, "fS": nil,
		"se": []bool{false, false, false, false, false, true, false, false}}); err != nil {
		return err
	}
	go c.watchdogs(ctx)
	for {
		msg, raw, err := c.next()
		if err != nil {
			return err
		}
		if msg == nil {
			if id := rawMID(raw); id != "" {
				_ = c.notAck(id, "invalid JSON")
			}
			continue
		}
		if err := c.handle(msg); err != nil {
			return err
		}
	}
}

// checkVersion returns why the supervisor's Version does not fit, or "".
func (s *RSMPSite) checkVersion(msg map[string]any) string {
	ids, _ := msg["siteId"].([]any)
	found := false
	for _, e := range ids {
		if m, ok := e.(map[string]any); ok && m["sId"] == s.cfg.SiteID {
			found = true
		}
	}
	if !found {
		return fmt.Sprintf("Site id mismatch: expected %s", s.cfg.SiteID)
	}
	if msg["SXL"] != s.cfg.SXL {
		return fmt.Sprintf("SXL version mismatch: %v requested, but only %s supported", msg["SXL"], s.cfg.SXL)
	}
	vers, _ := msg["RSMP"].([]any)
	var asked []string
	for _, e := range vers {
		if m, ok := e.(map[string]any); ok {
			if v, ok := m["vers"].(string); ok {
				asked = append(asked, v)
				if slices.Contains(s.cfg.Versions, v) {
					return ""
				}
			}
		}
	}
	return fmt.Sprintf("RSMP versions %v requested, but only %v supported", asked, s.cfg.Versions)
}

// handle answers one message after the Version exchange.
func (c *siteConn) handle(msg map[string]any) error {
	typ, _ := msg["type"].(string)
	mid, _ := msg["mId"].(string)
	switch typ {
	case "MessageAck", "MessageNotAck":
		return nil
	case "Watchdog", "AggregatedStatusRequest":
		return c.ack(mid)
	case "StatusRequest":
		return c.statusRequest(mid, msg)
	case "CommandRequest":
		return c.commandRequest(mid, msg)
	}
	return c.notAck(mid, "Unknown packet type: "+typ)
}

// statuses the site knows: sCI -> names.
var rsmpSiteStatuses = map[string][]string{
	"S0001": {"signalgroupstatus", "cyclecounter", "basecyclecounter", "stage"},
	"S0005": {"status", "statusByIntersection"},
	"S0007": {"intersection", "status", "source"},
	"S0014": {"status", "source"},
	"S0020": {"intersection", "controlmode"},
}

// statusValue returns the value of status sci's return value n.
func (s *RSMPSite) statusValue(sci, n string) any {
	plan, source := s.Plan()
	cycle := int(time.Since(s.start)/time.Second) % 90
	switch sci + "/" + n {
	case "S0001/signalgroupstatus":
		if cycle < 40 {
			return "1133"
		}
		return "3311"
	case "S0001/cyclecounter", "S0001/basecyclecounter":
		return strconv.Itoa(cycle)
	case "S0001/stage":
		return strconv.Itoa(1 + cycle/45)
	case "S0005/status":
		return "False"
	case "S0005/statusByIntersection":
		return []map[string]string{{"intersection": "1", "startup": "False"}}
	case "S0007/intersection", "S0020/intersection":
		return "0"
	case "S0007/status":
		return "True"
	case "S0007/source":
		return "startup"
	case "S0014/status":
		return strconv.Itoa(plan)
	case "S0014/source":
		return source
	case "S0020/controlmode":
		return "control"
	}
	return nil
}

func (c *siteConn) statusRequest(mid string, msg map[string]any) error {
	cid, _ := msg["cId"].(string)
	items, ok := msg["sS"].([]any)
	if !ok || len(items) == 0 {
		return c.notAck(mid, "sS missing or empty")
	}
	var out []map[string]any
	for _, it := range items {
		m, _ := it.(map[string]any)
		sci, _ := m["sCI"].(string)
		n, _ := m["n"].(string)
		if !slices.Contains(rsmpSiteStatuses[sci], n) {
			return c.notAck(mid, fmt.Sprintf("Unknown status %s %s", sci, n))
		}
		v := map[string]any{"sCI": sci, "n": n, "s": nil, "q": "undefined"}
		if cid == c.s.cfg.Component {
			v["s"], v["q"] = c.s.statusValue(sci, n), "recent"
		}
		out = append(out, v)
	}
	if err := c.ack(mid); err != nil {
		return err
	}
	return c.send(map[string]any{"mType": "rSMsg", "type": "StatusResponse", "mId": uuid4(), "ntsOId": "", "xNId": "",
		"cId": cid, "sTs": rsmpTime(time.Now()), "sS": out})
}

func (c *siteConn) commandRequest(mid string, msg map[string]any) error {
	cid, _ := msg["cId"].(string)
	items, ok := msg["arg"].([]any)
	if !ok || len(items) == 0 {
		return c.notAck(mid, "arg missing or empty")
	}
	args := map[string]string{}
	cci := ""
	for _, it := range items {
		m, _ := it.(map[string]any)
		cci, _ = m["cCI"].(string)
		n, _ := m["n"].(string)
		v, _ := m["v"].(string)
		if cci != "M0002" {
			return c.notAck(mid, "Unknown command "+cci)
		}
		if m["cO"] != "setPlan" {
			return c.notAck(mid, fmt.Sprintf("Unknown command %s cO %v (expected setPlan)", cci, m["cO"]))
		}
		args[n] = v
	}
	for _, n := range []string{"status", "securityCode", "timeplan"} {
		if _, ok := args[n]; !ok {
			return c.notAck(mid, "Incomplete command: missing argument "+n)
		}
	}
	if args["securityCode"] != c.s.cfg.SecurityCode {
		return c.notAck(mid, "Incorrect security code")
	}
	plan, err := strconv.Atoi(args["timeplan"])
	if err != nil || (args["status"] == "True" && (plan < 1 || plan > 255)) {
		return c.notAck(mid, fmt.Sprintf("timeplan %q: expected an integer from 1 to 255", args["timeplan"]))
	}
	if args["status"] != "True" && args["status"] != "False" {
		return c.notAck(mid, fmt.Sprintf("status %q: expected True or False", args["status"]))
	}
	if err := c.ack(mid); err != nil {
		return err
	}
	age := "undefined"
	if cid == c.s.cfg.Component {
		age = "recent"
		c.s.mu.Lock()
		if args["status"] == "True" {
			c.s.plan, c.s.source = plan, "forced"
		} else {
			c.s.plan, c.s.source = c.s.cfg.CalendarPlan, "calendar_clock"
		}
		c.s.commands++
		c.s.mu.Unlock()
		c.s.cfg.Log.Info("rsmp M0002 applied", "status", args["status"], "timeplan", plan)
	}
	var rvs []map[string]any
	for _, n := range []string{"status", "securityCode", "timeplan"} {
		var v any = args[n]
		if age != "recent" {
			v = nil
		}
		rvs = append(rvs, map[string]any{"cCI": "M0002", "n": n, "v": v, "age": age})
	}
	return c.send(map[string]any{"mType": "rSMsg", "type": "CommandResponse", "mId": uuid4(), "ntsOId": "", "xNId": "",
		"cId": cid, "cTS": rsmpTime(time.Now()), "rvs": rvs})
}

// watchdogs sends the site's watchdog every interval.
func (c *siteConn) watchdogs(ctx context.Context) {
	t := time.NewTicker(c.s.cfg.Watchdog)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if c.send(map[string]any{"mType": "rSMsg", "type": "Watchdog", "mId": uuid4(), "wTs": rsmpTime(time.Now())}) != nil {
				return
			}
		}
	}
}

// maxRSMPSiteMessage bounds what the site reads as one message.
const maxRSMPSiteMessage = 1 << 20

// next reads one message up to its form feed; consecutive form feeds are
// skipped. A message that does not parse returns a nil map and its bytes.
func (c *siteConn) next() (map[string]any, []byte, error) {
	for {
		var buf []byte
		for {
			chunk, err := c.rd.ReadSlice(0x0C)
			buf = append(buf, chunk...)
			if len(buf) > maxRSMPSiteMessage {
				return nil, nil, errors.New("message too long")
			}
			if errors.Is(err, bufio.ErrBufferFull) {
				continue
			}
			if err != nil {
				if errors.Is(err, io.EOF) {
					return nil, nil, io.EOF
				}
				return nil, nil, err
			}
			break
		}
		raw := bytes.TrimSpace(buf[:len(buf)-1])
		if len(raw) == 0 {
			continue
		}
		var m map[string]any
		if json.Unmarshal(raw, &m) != nil || m["mType"] != "rSMsg" {
			return nil, raw, nil
		}
		return m, raw, nil
	}
}

func (c *siteConn) send(m map[string]any) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_, err = c.conn.Write(append(b, 0x0C))
	return err
}

func (c *siteConn) ack(mid string) error {
	return c.send(map[string]any{"mType": "rSMsg", "type": "MessageAck", "oMId": mid})
}

func (c *siteConn) notAck(mid, rea string) error {
	return c.send(map[string]any{"mType": "rSMsg", "type": "MessageNotAck", "oMId": mid, "rea": rea})
}

// rawMID finds "mId":"..." in a message that did not parse.
func rawMID(raw []byte) string {
	i := bytes.Index(raw, []byte(`"mId":"`))
	if i < 0 {
		return ""
	}
	rest := raw[i+7:]
	j := bytes.IndexByte(rest, '"')
	if j < 0 || j > 64 {
		return ""
	}
	return string(rest[:j])
}

func uuid4() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

func rsmpTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// serveRSMP starts the RSMP site o asks for in g.
func serveRSMP(ctx context.Context, g *errgroup.Group, log *slog.Logger, o Options) error {
	code := o.RSMPSecurityCode
	if code == "" {
		code = os.Getenv("PONTE_SIM_RSMP_SECURITY_CODE")
	}
	if code == "" {
		return errors.New("--rsmp: the site needs a security code (--rsmp-security-code or $PONTE_SIM_RSMP_SECURITY_CODE)")
	}
	ln, err := net.Listen("tcp", o.RSMP)
	if err != nil {
		return fmt.Errorf("listen rsmp: %w", err)
	}
	site := NewRSMPSite(RSMPSiteConfig{SiteID: o.RSMPSite, SecurityCode: code, Log: log.With("rsmp_site", o.RSMPSite)})
	log.Info("serving rsmp site", "addr", ln.Addr().String(), "site", o.RSMPSite)
	g.Go(func() error { return site.Serve(ctx, ln) })
	return nil
}
