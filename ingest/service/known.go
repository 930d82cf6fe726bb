package service

import "maps"

// known is what the service knows of gateways and their devices: the
// configuration's, then changed by SetGateway as gateways enrol (package
// ingest/enrol). It is replaced whole, never changed in place, so readers
// load it without a lock.
type known struct {
	// gateways lists the accepted gateways; nil accepts any.
	gateways map[string]bool
	// devices lists each gateway's devices, for those that have a list.
	devices map[string]map[string]bool
}

func newKnown(gateways []string, devices map[string][]string) *known {
	k := &known{devices: map[string]map[string]bool{}}
	if len(gateways) > 0 {
		k.gateways = map[string]bool{}
		for _, g := range gateways {
			k.gateways[g] = true
		}
	}
	for gw, devs := range devices {
		k.devices[gw] = deviceSet(devs)
	}
	return k
}

func deviceSet(devs []string) map[string]bool {
	set := make(map[string]bool, len(devs))
	for _, d := range devs {
		set[d] = true
	}
	return set
}

// gateway reports whether id is accepted.
func (k *known) gateway(id string) bool { return k.gateways == nil || k.gateways[id] }

// SetGateway makes gateway id known with its device list (an enrolment
// or re-enrolment): its batches are accepted where the configuration
// lists gateways, and its readings are screened against devices.
func (s *Service) SetGateway(id string, devices []string) {
	s.knownMu.Lock()
	defer s.knownMu.Unlock()
	old := s.known.Load()
	k := &known{devices: maps.Clone(old.devices)}
	if old.gateways != nil {
		k.gateways = maps.Clone(old.gateways)
		k.gateways[id] = true
	}
	k.devices[id] = deviceSet(devices)
	s.known.Store(k)
}
