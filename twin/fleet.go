package twin

import (
	"math"
	"time"

	"github.com/ponte-city/ponte/wire"
)

// The fleet: what the gateway entities say of their gateways, as
// attributes (the names below are the API's contract). A gateway's status
// message (SetGatewayStatus) gives its state, agent version and health;
// its batches (Apply) and status messages tell when it was last seen;
// ingest's registry says whether its credentials are revoked
// (SetGatewayRevoked). A revoked gateway stays on the map, marked, so
// operators see it. A status of a gateway no site config places creates
// no entity and is ignored.
//
// Last seen is the latest of a status message's time (when the gateway
// published it: a retained status received when ingest restarts must not
// make a dead gateway look alive) and the twin's clock when one of its
// batches was applied. Its attribute moves in steps of LastSeenStep, so a
// busy gateway does not add a change to the stream per batch.

// Attribute names of gateway entities.
const (
	// AttrDeviceState is "online" or "offline" (FIWARE Device), from the
	// latest status message; absent before one.
	AttrDeviceState = "deviceState"
	// AttrSoftwareVersion is the agent's version (FIWARE Device), from its
	// status; absent until a status states one.
	AttrSoftwareVersion = "softwareVersion"
	// AttrLastSeen is when the gateway was last heard of, as RFC 3339 text
	// (UTC, seconds); ObservedAt holds the same time. Absent until then.
	AttrLastSeen = "lastSeen"
	// AttrBuffered is how many readings the gateway holds that ingest has
	// not acknowledged (its Health); absent until a status carries health.
	AttrBuffered = "buffered"
	// AttrOldestUnsent is when the oldest of them was read, as RFC 3339
	// text; absent when the gateway holds none.
	AttrOldestUnsent = "oldestUnsent"
	// AttrDevicesUp and AttrDevicesBad count the gateway's devices whose
	// last poll or message was read and accepted, or not (its Health).
	AttrDevicesUp  = "devicesUp"
	AttrDevicesBad = "devicesBad"
	// AttrRevoked is true when the gateway's credentials are revoked.
	// Always present on gateway entities.
	AttrRevoked = "revoked"
)

// LastSeenStep is the resolution of AttrLastSeen.
const LastSeenStep = 10 * time.Second

// fleet is a gateway's fleet state; each field's time is when the twin
// learnt it (the attribute's ObservedAt).
type fleet struct {
	since      time.Time // the entity's creation
	stateKnown bool      // a status gave online or offline
	stateAt    time.Time
	version    string
	versionAt  time.Time
	lastSeen   time.Time // exact
	shownSeen  time.Time // lastSeen as in the attributes
	health     *wire.Health
	healthAt   time.Time
	revoked    bool
	revokedAt  time.Time
}

// fleetAttrs returns a gateway's attributes from its fleet state.
func (g *node) fleetAttrs() map[string]Attr {
	f := &g.fleet
	attrs := make(map[string]Attr, 8)
	revokedAt := f.revokedAt
	if revokedAt.IsZero() {
		revokedAt = f.since
	}
	attrs[AttrRevoked] = Attr{Value: f.revoked, ObservedAt: revokedAt}
	if f.stateKnown {
		state := wire.StateOnline
		if g.offline {
			state = wire.StateOffline
		}
		attrs[AttrDeviceState] = Attr{Value: state, ObservedAt: f.stateAt}
	}
	if f.version != "" {
		attrs[AttrSoftwareVersion] = Attr{Value: f.version, ObservedAt: f.versionAt}
	}
	if !f.shownSeen.IsZero() {
		attrs[AttrLastSeen] = Attr{Value: f.shownSeen.UTC().Format(time.RFC3339), ObservedAt: f.shownSeen}
	}
	if h := f.health; h != nil {
		attrs[AttrBuffered] = Attr{Value: int64(min(h.Buffered, math.MaxInt64)), Unit: "1", ObservedAt: f.healthAt}
		if !h.Oldest.IsZero() {
			attrs[AttrOldestUnsent] = Attr{Value: h.Oldest.UTC().Format(time.RFC3339), ObservedAt: f.healthAt}
		}
		attrs[AttrDevicesUp] = Attr{Value: int64(h.DevicesUp), Unit: "1", ObservedAt: f.healthAt}
		attrs[AttrDevicesBad] = Attr{Value: int64(h.DevicesBad), Unit: "1", ObservedAt: f.healthAt}
	}
	return attrs
}

// seen records that the gateway was heard of at, under t.mu; it reports
// whether the attribute is due to move (see LastSeenStep).
func (g *node) seen(at time.Time) bool {
	f := &g.fleet
	if !at.After(f.lastSeen) {
		return false
	}
	f.lastSeen = at
	if f.shownSeen.IsZero() || at.Sub(f.shownSeen) >= LastSeenStep {
		f.shownSeen = at
		return true
	}
	return false
}

// refreshGateway replaces a gateway's attributes from its fleet state and
// emits its change if they differ, under t.mu.
func (t *Twin) refreshGateway(g *node) {
	attrs := g.fleetAttrs()
	if sameAttrs(attrs, g.snap.Attrs) {
		return
	}
	g.snap.Attrs = attrs
	t.emit(g)
}

// sameAttrs says whether two attribute maps hold the same values.
func sameAttrs(a, b map[string]Attr) bool {
	if len(a) != len(b) {
		return false
	}
	for k, x := range a {
		y, ok := b[k]
		if !ok || x.Value != y.Value || x.Unit != y.Unit || !x.ObservedAt.Equal(y.ObservedAt) {
			return false
		}
	}
	return true
}

// SetGatewayStatus records a gateway's status message: its state (see
// SetGatewayState), its agent version when stated, its health when it
// carries one (a status without health keeps the last one), and last seen
// (st.Time, when not after the twin's clock). A gateway no site config
// places is ignored: a status creates no entity.
func (t *Twin) SetGatewayStatus(st wire.Status) {
	now := t.cfg.Now()
	t.mu.Lock()
	defer t.unlock()
	g, ok := t.gws[st.Gateway]
	if !ok {
		t.log.Debug("twin: status of a gateway no site config places", "gateway", st.Gateway, "state", st.State)
		return
	}
	f := &g.fleet
	if st.Version != "" && st.Version != f.version {
		f.version, f.versionAt = st.Version, now
	}
	if st.Health != nil && (f.health == nil || *st.Health != *f.health) {
		h := *st.Health
		f.health, f.healthAt = &h, now
	}
	if at := st.Time; !at.IsZero() {
		if at.After(now) {
			at = now // a gateway clock ahead of ours
		}
		g.seen(at)
		f.shownSeen = f.lastSeen // a status is rare: show it exactly
	}
	online := st.State != wire.StateOffline
	if !f.stateKnown || g.offline == online {
		f.stateKnown, f.stateAt = true, now
	}
	if !online {
		g.offlineAt = st.Time
	}
	t.setGateway(g, online, now)
	t.refreshGateway(g)
	t.flush()
}

// SetGatewayState records a gateway's state as a status message would
// (SetGatewayStatus with only gateway, state and time): offline (its last
// will) marks its sites Offline, online restores each to fresh, stale or
// unknown by the time of its latest good reading. Unknown gateways are
// ignored. at is when the status was published.
func (t *Twin) SetGatewayState(gateway string, online bool, at time.Time) {
	state := wire.StateOnline
	if !online {
		state = wire.StateOffline
	}
	t.SetGatewayStatus(wire.Status{Gateway: gateway, State: state, Time: at})
}

// SetGatewayRevoked marks a gateway's credentials revoked (or no longer
// revoked). The gateway stays on the map, marked, until its sites are
// removed (SetGatewaySites with none). Unknown gateways are ignored; the
// mark lives on the gateway's entity, so a registry that removes and
// re-adds a gateway's sites sets it again.
func (t *Twin) SetGatewayRevoked(gateway string, revoked bool) {
	t.SetGatewayRevokedAt(gateway, revoked, time.Time{})
}

// SetGatewayRevokedAt is SetGatewayRevoked with the time the registry
// recorded the change (zero: now), the revoked attribute's ObservedAt:
// every instance of a cluster, and a restarted one, shows the same.
func (t *Twin) SetGatewayRevokedAt(gateway string, revoked bool, at time.Time) {
	t.mu.Lock()
	defer t.unlock()
	g, ok := t.gws[gateway]
	if !ok {
		t.log.Debug("twin: revocation of a gateway no site config places", "gateway", gateway)
		return
	}
	if g.fleet.revoked == revoked && (at.IsZero() || at.Equal(g.fleet.revokedAt)) {
		return
	}
	if at.IsZero() {
		at = t.cfg.Now()
	}
	g.fleet.revoked, g.fleet.revokedAt = revoked, at
	t.log.Info("twin: gateway revocation", "gateway", gateway, "revoked", revoked)
	t.refreshGateway(g)
	t.flush()
}
