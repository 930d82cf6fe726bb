package rsmp

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ponte-city/ponte/edge/source"
	"github.com/ponte-city/ponte/internal/testenv"
	"github.com/ponte-city/ponte/wire"
)

// TestProbeReadsStatusesWithTheirQuality: after the establishment, one
// StatusRequest for the profile's statuses; only "recent" values are good.
func TestProbeReadsStatusesWithTheirQuality(t *testing.T) {
	tests := []struct {
		name    string
		values  map[string][2]any
		quality map[string]wire.Quality
		reason  map[string]string
		value   map[string]wire.Value
	}{
		{name: "recent values",
			values:  map[string][2]any{"S0014/status": {"3", "recent"}, "S0014/source": {"forced", "recent"}, "S0007/status": {"True", "recent"}},
			quality: map[string]wire.Quality{"time_plan": wire.QualityGood, "plan_source": wire.QualityGood, "switched_on": wire.QualityGood},
			value:   map[string]wire.Value{"time_plan": wire.Int(3), "plan_source": wire.String("forced"), "switched_on": wire.Bool(true)}},
		{name: "old, undefined and unknown are bad",
			values:  map[string][2]any{"S0014/status": {"3", "old"}, "S0014/source": {nil, "undefined"}, "S0007/status": {nil, "unknown"}},
			quality: map[string]wire.Quality{"time_plan": wire.QualityBadDevice, "plan_source": wire.QualityBadDevice, "switched_on": wire.QualityBadDevice},
			reason: map[string]string{"time_plan": `S0014 status: quality "old" (not up to date)`, "plan_source": `S0014 source: quality "undefined" (the component does not exist)`,
				"switched_on": `S0007 status: quality "unknown" (the value is unknown)`}},
		{name: "missing, undecodable, out of range",
			values:  map[string][2]any{"S0014/status": {"300", "recent"}, "S0007/status": {"true", "recent"}},
			quality: map[string]wire.Quality{"time_plan": wire.QualityBadRange, "plan_source": wire.QualityBadDevice, "switched_on": wire.QualityBadDecode},
			reason: map[string]string{"time_plan": "300 outside the range [1, 255]", "plan_source": "S0014 source missing from the StatusResponse",
				"switched_on": `S0007 status: "true" is not an RSMP boolean (expected True or False)`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := newPeer(t)
			done := make(chan struct{})
			go func() {
				defer close(done)
				p.accept()
				p.handshake("RN+SI0001")
				req := p.expect(TypeStatusRequest)
				if req["cId"] != "RN+SI0001" {
					t.Errorf("StatusRequest to component %v, want the site's main component RN+SI0001", req["cId"])
				}
				p.ack(req)
				p.statusResponse(req, tc.values)
				p.expect(TypeMessageAck) // of the response
			}()
			rs, err := Probe(context.Background(), p.device(t, "RN+SI0001"), testenv.Logger(t, -4))
			<-done
			if err != nil {
				t.Fatal(err)
			}
			if len(rs) != 3 {
				t.Fatalf("%d results, want 3", len(rs))
			}
			for _, r := range rs {
				pt := r.Reading.Point
				if r.Reading.Quality != tc.quality[pt] {
					t.Errorf("%s: quality %s, want %s (%s)", pt, r.Reading.Quality, tc.quality[pt], r.Reading.Reason)
				}
				if want := tc.reason[pt]; want != "" && r.Reading.Reason != want {
					t.Errorf("%s: reason %q, want %q", pt, r.Reading.Reason, want)
				}
				if want, ok := tc.value[pt]; ok && r.Reading.Value != want {
					t.Errorf("%s: value %v, want %v", pt, r.Reading.Value, want)
				}
			}
		})
	}
}

// TestVersionRefused: a site whose Version does not fit is answered with a
// MessageNotAck naming why, the connection is closed, and the error names
// the device and both IDs.
func TestVersionRefused(t *testing.T) {
	tests := []struct {
		name    string
		version map[string]any
		want    string
	}{
		{"site ID", version("RN+SI0002", "1.2.1", "3.2.2"), "site ID mismatch: the site announced RN+SI0002, device tlc-1 expects RN+SI0001"},
		{"SXL", version("RN+SI0001", "1.0.15", "3.2.2"), "SXL mismatch: the site announced SXL 1.0.15, device tlc-1 expects SXL 1.2.1"},
		{"RSMP versions", version("RN+SI0001", "1.2.1", "3.1.1", "3.1.2"), "RSMP versions [3.1.1,3.1.2] requested, but only [3.1.5,3.2.2] supported"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := newPeer(t)
			notAck := make(chan map[string]any, 1)
			go func() {
				p.accept()
				vid := p.send(tc.version)
				m := p.expect(TypeMessageNotAck)
				if m["oMId"] != vid {
					t.Errorf("NotAck of %v, want of the Version %s", m["oMId"], vid)
				}
				notAck <- m
				if _, err := p.fr.Next(); err == nil {
					t.Error("the supervisor kept the connection open after refusing the Version")
				}
			}()
			_, err := Probe(context.Background(), p.device(t, "RN+SI0001"), nil)
			if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want ErrRefused with %q", err, tc.want)
			}
			if m := <-notAck; m["rea"] != strings.TrimPrefix(tc.want, "") && !strings.Contains(m["rea"].(string), tc.want) {
				t.Fatalf("rea %q, want %q", m["rea"], tc.want)
			}
		})
	}
}

// TestSiteRefusesTheSupervisorsVersion: a MessageNotAck for this side's
// Version is a refusal carrying the site's reason.
func TestSiteRefusesTheSupervisorsVersion(t *testing.T) {
	p := newPeer(t)
	go func() {
		p.accept()
		p.send(version("RN+SI0001", "1.2.1", "3.2.2"))
		p.expect(TypeMessageAck)
		v := p.expect(TypeVersion)
		p.send(map[string]any{"type": TypeMessageNotAck, "oMId": v["mId"], "rea": "Site id mismatch: expected RN+SI0009"})
	}()
	_, err := Probe(context.Background(), p.device(t, "RN+SI0001"), nil)
	if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "the site refused this supervisor's Version: Site id mismatch: expected RN+SI0009") {
		t.Fatalf("error %v", err)
	}
}

// TestStatusRequestNotAcked: the site's MessageNotAck of a StatusRequest
// (an SXL mismatch, core 3.2.2 "Error handling") is the probe's error,
// with the site's reason.
func TestStatusRequestNotAcked(t *testing.T) {
	p := newPeer(t)
	go func() {
		p.accept()
		p.handshake("RN+SI0001")
		req := p.expect(TypeStatusRequest)
		p.send(map[string]any{"type": TypeMessageNotAck, "oMId": req["mId"], "rea": "Unknown status S0007"})
	}()
	_, err := Probe(context.Background(), p.device(t, "RN+SI0001"), nil)
	if rea, ok := IsNotAck(err); !ok || rea != "Unknown status S0007" {
		t.Fatalf("error %v, want the site's NotAck", err)
	}
}

// TestSourceSession runs the source against the scripted site: polls,
// watchdogs both ways, a message that is not JSON answered with a
// MessageNotAck, an AggregatedStatus acknowledged, then a dropped
// connection: every point goes bad_comm and the source reconnects.
func TestSourceSession(t *testing.T) {
	p := newPeer(t)
	_, rec, stop := runSource(t, Config{Devices: []source.Device{p.device(t, "RN+SI0001")}, Logger: testenv.Logger(t, -4),
		Watchdog: 30 * time.Millisecond, BackoffBase: 10 * time.Millisecond, BackoffMax: 20 * time.Millisecond})

	p.accept()
	p.handshake("RN+SI0001")
	agg := p.send(map[string]any{"type": TypeAggregatedStatus, "cId": "RN+SI0001", "aSTS": timestamp(time.Now()), "fP": nil, "fS": nil,
		"se": []bool{false, false, false, false, false, true, false, false}})
	bad := newMID()
	p.raw(`{"mType":"rSMsg","type":"Watchdog","mId":"` + bad + `","wTs":`) // cut short
	siteWD := p.send(map[string]any{"type": TypeWatchdog, "wTs": timestamp(time.Now())})
	seen := map[string]bool{}
	for !(seen["agg"] && seen["bad"] && seen["wd"] && seen["supervisor watchdog"] && seen["poll"]) {
		m := p.recv()
		switch m["type"] {
		case TypeMessageAck:
			switch m["oMId"] {
			case agg:
				seen["agg"] = true
			case siteWD:
				seen["wd"] = true
			}
		case TypeMessageNotAck:
			if m["oMId"] == bad && strings.Contains(m["rea"].(string), "invalid JSON") {
				seen["bad"] = true
			}
		case TypeWatchdog:
			p.ack(m)
			seen["supervisor watchdog"] = true
		case TypeStatusRequest:
			p.ack(m)
			p.statusResponse(m, map[string][2]any{"S0014/status": {"4", "recent"}, "S0014/source": {"forced", "recent"}, "S0007/status": {"True", "recent"}})
			seen["poll"] = true
		}
	}
	testenv.Eventually(t, 10*time.Second, "a good time_plan reading", func() bool {
		r, ok := rec.last("time_plan")
		return ok && r.Quality.Good() && r.Value == wire.Int(4)
	})

	p.conn.Close() // the link drops
	testenv.Eventually(t, 10*time.Second, "a bad_comm time_plan reading", func() bool {
		r, ok := rec.last("time_plan")
		return ok && r.Quality == wire.QualityBadComm
	})
	p.accept() // the source reconnects
	p.handshake("RN+SI0001")
	served := make(chan struct{})
	go func() {
		defer close(served)
		for {
			m, err := p.tryRecv()
			if err != nil {
				return // the source stopped
			}
			switch m["type"] {
			case TypeStatusRequest:
				p.ack(m)
				p.statusResponse(m, map[string][2]any{"S0014/status": {"5", "recent"}, "S0014/source": {"forced", "recent"}, "S0007/status": {"True", "recent"}})
			case TypeWatchdog:
				p.ack(m)
			}
		}
	}()
	testenv.Eventually(t, 10*time.Second, "a good reading after the reconnection", func() bool {
		r, ok := rec.last("time_plan")
		return ok && r.Quality.Good() && r.Value == wire.Int(5)
	})
	p.stopping.Store(true)
	stop()
	<-served
}

// TestNoAckIsADisruption: a StatusRequest without a MessageAck within the
// timeout ends the connection (core 3.2.2, "Message acknowledgement").
func TestNoAckIsADisruption(t *testing.T) {
	p := newPeer(t)
	dev := p.device(t, "RN+SI0001")
	dev.Timeout = 300 * time.Millisecond
	_, rec, stop := runSource(t, Config{Devices: []source.Device{dev}, BackoffBase: 10 * time.Millisecond})
	p.accept()
	p.handshake("RN+SI0001")
	p.expect(TypeStatusRequest) // and never acknowledged
	testenv.Eventually(t, 10*time.Second, "bad_comm readings naming the missing ack", func() bool {
		r, ok := rec.last("time_plan")
		return ok && r.Quality == wire.QualityBadComm && strings.Contains(r.Reason, "no MessageAck")
	})
	p.accept() // and it reconnects
	stop()
}
