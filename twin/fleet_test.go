package twin

import (
	"testing"
	"time"

	"github.com/ponte-city/ponte/wire"
)

const gwEntity = "urn:ngsi-ld:Device:gw"

func gatewayAttrs(t *testing.T, tw *Twin) map[string]Attr {
	t.Helper()
	e, ok := tw.Entity(gwEntity)
	if !ok {
		t.Fatal("no gateway entity")
	}
	return e.Attrs
}

func TestSetGatewayStatus(t *testing.T) {
	tw, clk := newTwin(t, []Site{siteAt("gw", "a", "noise", duomo)})
	if a := gatewayAttrs(t, tw); len(a) != 1 || a[AttrRevoked].Value != false {
		t.Errorf("before any status: %v, want only revoked false", a)
	}
	ch, unsub := tw.Subscribe(Filter{Types: []string{"gateway"}}, 0)
	defer unsub()

	clk.Set(t0.Add(time.Minute))
	oldest := t0.Add(-10 * time.Minute)
	published := t0.Add(50 * time.Second)
	tw.SetGatewayStatus(wire.Status{Gateway: "gw", State: wire.StateOnline, Time: published, Version: "1.4.0",
		Health: &wire.Health{Buffered: 1200, Oldest: oldest, DevicesUp: 5, DevicesBad: 2}})
	a := gatewayAttrs(t, tw)
	want := map[string]any{
		AttrDeviceState: "online", AttrSoftwareVersion: "1.4.0", AttrLastSeen: "2026-05-04T08:00:50Z",
		AttrBuffered: int64(1200), AttrOldestUnsent: "2026-05-04T07:50:00Z", AttrDevicesUp: int64(5), AttrDevicesBad: int64(2),
		AttrRevoked: false,
	}
	for k, v := range want {
		if a[k].Value != v {
			t.Errorf("%s = %v (%T), want %v", k, a[k].Value, a[k].Value, v)
		}
	}
	if len(a) != len(want) {
		t.Errorf("attributes %v", a)
	}
	if !a[AttrLastSeen].ObservedAt.Equal(published) {
		t.Errorf("last seen observed at %s, want the status's time %s", a[AttrLastSeen].ObservedAt, published)
	}
	if got := drain(ch, 10, 200*time.Millisecond); len(got) != 1 || got[0].Entity.Attrs[AttrSoftwareVersion].Value != "1.4.0" {
		t.Errorf("%d changes streamed, want 1 with the version", len(got))
	}

	t.Run("a status without health keeps the last", func(t *testing.T) {
		clk.Set(t0.Add(2 * time.Minute))
		tw.SetGatewayStatus(wire.Status{Gateway: "gw", State: wire.StateOffline, Time: clk.Now()})
		a := gatewayAttrs(t, tw)
		if a[AttrBuffered].Value != int64(1200) || a[AttrDevicesBad].Value != int64(2) || a[AttrSoftwareVersion].Value != "1.4.0" {
			t.Errorf("health or version lost: %v", a)
		}
		if a[AttrDeviceState].Value != "offline" || a[AttrLastSeen].Value != "2026-05-04T08:02:00Z" {
			t.Errorf("state %v last seen %v", a[AttrDeviceState].Value, a[AttrLastSeen].Value)
		}
		if e, _ := tw.Entity(gwEntity); e.Freshness != Offline {
			t.Errorf("gateway %s, want offline", e.Freshness)
		}
		if got := drain(ch, 10, 200*time.Millisecond); len(got) != 1 {
			t.Errorf("%d changes for one status, want 1", len(got))
		}
	})

	t.Run("health emptied", func(t *testing.T) {
		tw.SetGatewayStatus(wire.Status{Gateway: "gw", State: wire.StateOnline, Time: clk.Now(), Health: &wire.Health{DevicesUp: 7}})
		a := gatewayAttrs(t, tw)
		if _, ok := a[AttrOldestUnsent]; ok || a[AttrBuffered].Value != int64(0) || a[AttrDevicesUp].Value != int64(7) {
			t.Errorf("attributes %v, want nothing buffered and no oldest", a)
		}
	})

	t.Run("a clock ahead is not believed, an older status does not go back", func(t *testing.T) {
		tw.SetGatewayStatus(wire.Status{Gateway: "gw", State: wire.StateOnline, Time: clk.Now().Add(time.Hour)})
		if a := gatewayAttrs(t, tw); a[AttrLastSeen].Value != "2026-05-04T08:02:00Z" {
			t.Errorf("last seen %v, want the twin's clock", a[AttrLastSeen].Value)
		}
		tw.SetGatewayStatus(wire.Status{Gateway: "gw", State: wire.StateOnline, Time: t0})
		if a := gatewayAttrs(t, tw); a[AttrLastSeen].Value != "2026-05-04T08:02:00Z" {
			t.Errorf("last seen %v went back", a[AttrLastSeen].Value)
		}
	})

	t.Run("the same status again streams nothing", func(t *testing.T) {
		drain(ch, 100, 100*time.Millisecond)
		before := tw.LastSeq()
		tw.SetGatewayStatus(wire.Status{Gateway: "gw", State: wire.StateOnline, Time: clk.Now(), Health: &wire.Health{DevicesUp: 7}})
		if tw.LastSeq() != before {
			t.Errorf("%d changes", tw.LastSeq()-before)
		}
	})

	t.Run("unknown gateway", func(t *testing.T) {
		before := tw.LastSeq()
		tw.SetGatewayStatus(wire.Status{Gateway: "ghost", State: wire.StateOnline, Time: clk.Now(), Version: "9"})
		tw.SetGatewayRevoked("ghost", true)
		if _, ok := tw.Entity("urn:ngsi-ld:Device:ghost"); ok || tw.LastSeq() != before {
			t.Error("a status of an unknown gateway made an entity or a change")
		}
	})
}

func TestLastSeenFromApply(t *testing.T) {
	tw, clk := newTwin(t, []Site{siteAt("gw", "a", "noise", duomo)})
	clk.Set(t0.Add(time.Minute))
	tw.Apply("gw", 1, batch("gw", rd("a", "LAeq", wire.Float(60), "dB", t0)))
	if a := gatewayAttrs(t, tw); a[AttrLastSeen].Value != "2026-05-04T08:01:00Z" {
		t.Fatalf("last seen %v, want when the batch was applied", a[AttrLastSeen].Value)
	}
	// Readings of devices no site places still say the gateway is alive.
	ch, unsub := tw.Subscribe(Filter{Types: []string{"gateway"}}, 0)
	defer unsub()
	clk.Set(t0.Add(time.Minute + LastSeenStep/2))
	tw.Apply("gw", 2, batch("gw", rd("unknown", "x", wire.Float(1), "", clk.Now())))
	if got := drain(ch, 1, 100*time.Millisecond); len(got) != 0 {
		t.Errorf("a change within LastSeenStep: %v", got[0].Entity.Attrs[AttrLastSeen])
	}
	clk.Set(t0.Add(time.Minute + LastSeenStep))
	tw.Apply("gw", 3, batch("gw", rd("unknown", "x", wire.Float(1), "", clk.Now())))
	got := drain(ch, 1, time.Second)
	if len(got) != 1 || got[0].Entity.Attrs[AttrLastSeen].Value != "2026-05-04T08:01:10Z" {
		t.Fatalf("changes %v, want last seen 08:01:10", got)
	}
	// A batch that changes the gateway carries last seen in that one change.
	clk.Set(t0.Add(time.Hour))
	tw.Tick(clk.Now()) // the site and so the gateway go stale
	drain(ch, 10, 100*time.Millisecond)
	tw.Apply("gw", 4, batch("gw", rd("a", "LAeq", wire.Float(60), "dB", clk.Now())))
	got = drain(ch, 10, 200*time.Millisecond)
	if len(got) != 1 || got[0].Entity.Freshness != Fresh || got[0].Entity.Attrs[AttrLastSeen].Value != "2026-05-04T09:00:00Z" {
		t.Errorf("changes %v, want one: fresh, seen 09:00", got)
	}
}

func TestSetGatewayRevoked(t *testing.T) {
	tw, clk := newTwin(t, []Site{siteAt("gw", "a", "noise", duomo)})
	tw.Apply("gw", 1, batch("gw", rd("a", "LAeq", wire.Float(60), "dB", t0)))
	ch, unsub := tw.Subscribe(Filter{}, 0)
	defer unsub()
	clk.Set(t0.Add(time.Second))
	tw.SetGatewayRevoked("gw", true)
	e, ok := tw.Entity(gwEntity)
	if !ok || e.Attrs[AttrRevoked].Value != true || !e.Attrs[AttrRevoked].ObservedAt.Equal(clk.Now()) || e.Freshness != Fresh {
		t.Errorf("revoked gateway %v %+v, want on the map, revoked, its freshness unchanged", ok, e)
	}
	got := drain(ch, 10, 200*time.Millisecond)
	if len(got) != 1 || got[0].Entity.ID != gwEntity {
		t.Errorf("changes %v, want the gateway's", got)
	}
	before := tw.LastSeq()
	tw.SetGatewayRevoked("gw", true)
	if tw.LastSeq() != before {
		t.Error("revoking twice made a change")
	}
	tw.SetGatewayRevoked("gw", false)
	if a := gatewayAttrs(t, tw); a[AttrRevoked].Value != false {
		t.Errorf("after reinstating: %v", a[AttrRevoked])
	}
	// A revoked gateway whose sites change stays revoked.
	tw.SetGatewayRevoked("gw", true)
	if err := tw.SetGatewaySites("gw", []Site{siteAt("gw", "a", "noise", duomo), siteAt("gw", "b", "noise", fiesole)}); err != nil {
		t.Fatal(err)
	}
	if a := gatewayAttrs(t, tw); a[AttrRevoked].Value != true {
		t.Errorf("after new sites: %v", a[AttrRevoked])
	}
}
