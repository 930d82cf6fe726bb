package twin

import (
	"testing"
	"time"

	"github.com/ponte-city/ponte/wire"
)

// TestSetGatewayRevokedAt: the revoked mark carries the time the registry
// gave (the same on every instance of a cluster and after a restart), not
// the time this twin learnt it; the same state and time again is no
// change.
func TestSetGatewayRevokedAt(t *testing.T) {
	tw, clk := newTwin(t, []Site{siteAt("gw", "a", "noise", duomo)})
	tw.Apply("gw", 1, batch("gw", rd("a", "LAeq", wire.Float(60), "dB", t0)))
	clk.Set(t0.Add(time.Hour))
	enrolled, revoked := t0.Add(-24*time.Hour), t0.Add(-time.Minute)
	for _, c := range []struct {
		revoked bool
		at      time.Time
	}{{false, enrolled}, {true, revoked}} {
		tw.SetGatewayRevokedAt("gw", c.revoked, c.at)
		if a := gatewayAttrs(t, tw)[AttrRevoked]; a.Value != c.revoked || !a.ObservedAt.Equal(c.at) {
			t.Errorf("revoked %v at %v: attribute %+v", c.revoked, c.at, a)
		}
	}
	before := tw.LastSeq()
	tw.SetGatewayRevokedAt("gw", true, revoked)
	if tw.LastSeq() != before {
		t.Error("the same revocation again made a change")
	}
}
