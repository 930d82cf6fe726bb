package api

import (
	"net/http"
	"strconv"

	"github.com/paulmach/orb"

	"github.com/ponte-city/ponte/twin"
)

// fleetGateway is one gateway of GET /api/v1/gateways: its entity's
// fleet attributes (see twin's fleet.go) as plain fields, null when the
// gateway has not said.
type fleetGateway struct {
	// ID is the gateway entity's ID, Gateway the gateway's own.
	ID      string `json:"id"`
	Gateway string `json:"gateway"`
	// Location is [lon, lat], the centroid of its sites.
	Location  *[2]float64    `json:"location"`
	Freshness twin.Freshness `json:"freshness"`
	// DeviceState is "online" or "offline", from its latest status.
	DeviceState     *string `json:"deviceState"`
	SoftwareVersion *string `json:"softwareVersion"`
	// LastSeen and OldestUnsent are RFC 3339 times.
	LastSeen     *string `json:"lastSeen"`
	Buffered     *int64  `json:"buffered"`
	OldestUnsent *string `json:"oldestUnsent"`
	DevicesUp    *int64  `json:"devicesUp"`
	DevicesBad   *int64  `json:"devicesBad"`
	Revoked      bool    `json:"revoked"`
}

// fleet is the body of GET /api/v1/gateways.
type fleet struct {
	Gateways []fleetGateway `json:"gateways"`
}

// handleGateways answers GET /api/v1/gateways: every gateway entity with
// its fleet attributes, sorted by entity ID, for operators looking after
// the gateways (no filter: a city's fleet is hundreds, not thousands).
func (a *API) handleGateways(w http.ResponseWriter, r *http.Request) {
	seq := a.reader.LastSeq()
	ents := a.scoped(r).Entities(twin.Filter{Types: []string{string(twin.KindGateway)}})
	out := fleet{Gateways: make([]fleetGateway, 0, len(ents))}
	for _, e := range ents {
		out.Gateways = append(out.Gateways, newFleetGateway(e))
	}
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("X-Last-Event-ID", strconv.FormatUint(seq, 10))
	writeJSON(w, "application/json", out)
}

// newFleetGateway reads a gateway entity's fleet attributes; a value of
// an unexpected type reads as absent.
func newFleetGateway(e twin.Entity) fleetGateway {
	g := fleetGateway{ID: e.ID, Gateway: e.Gateway, Freshness: e.Freshness}
	if g.Freshness == "" {
		g.Freshness = twin.Unknown
	}
	if p, ok := e.Geometry.(orb.Point); ok && finite(&p[0]) != nil && finite(&p[1]) != nil {
		g.Location = &[2]float64{p[0], p[1]}
	}
	str := func(name string) *string {
		if s, ok := e.Attrs[name].Value.(string); ok {
			return &s
		}
		return nil
	}
	num := func(name string) *int64 {
		if n, ok := e.Attrs[name].Value.(int64); ok {
			return &n
		}
		return nil
	}
	g.DeviceState = str(twin.AttrDeviceState)
	g.SoftwareVersion = str(twin.AttrSoftwareVersion)
	g.LastSeen = str(twin.AttrLastSeen)
	g.Buffered = num(twin.AttrBuffered)
	g.OldestUnsent = str(twin.AttrOldestUnsent)
	g.DevicesUp = num(twin.AttrDevicesUp)
	g.DevicesBad = num(twin.AttrDevicesBad)
	g.Revoked, _ = e.Attrs[twin.AttrRevoked].Value.(bool)
	return g
}
