package service

import "github.com/ponte-city/ponte/wire"

// otherGateway is the gateway label of dead letters whose gateway is not
// one ingest knows: an ID the configuration does not list, or not a valid
// ID at all.
const otherGateway = "_other"

// gatewayLabel bounds the gateway label of per-gateway metrics that also
// count refused batches. Batches that passed check come from a gateway
// the configuration lists (or, without a list, one the broker's ACL or
// the HTTP credentials vouched for), as for
// ponte_ingest_gateway_dropped_readings_total; a forged or unknown ID in a
// topic must not add a series per ID it invents.
func (s *Service) gatewayLabel(id string) string {
	if !wire.ValidGatewayID(id) || !s.known.Load().gateway(id) {
		return otherGateway
	}
	return id
}
