package mqtt

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/ponte-city/ponte/edge/source"
	"github.com/ponte-city/ponte/internal/profile"
)

// device is a configured device and its live state.
type device struct {
	source.Device
	prof   *profile.MQTT
	broker *broker

	mu        sync.Mutex
	lastHeard time.Time
	silent    bool
	problem   string // the last problem logged at Warn, to log each once
	lastUp    string // topic of the last uplink: downlinks go to its sibling
	watchers  map[*readback]struct{}

	// writing holds one token while a write runs: one at a time.
	writing chan struct{}
}

// heard records a message from the device at t and reports whether the
// device had been reported silent.
func (d *device) heard(t time.Time) (wasSilent bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.lastHeard, wasSilent, d.silent = t, d.silent, false
	return wasSilent
}

// newProblem records the device's current problem ("" for none) and
// reports whether it differs from the last one, so that a device stuck on
// one problem logs it once, not every message.
func (d *device) newProblem(p string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	changed := p != d.problem
	d.problem = p
	return changed
}

// route is one profile's mapping on one broker: its topic filter and the
// devices it serves.
type route struct {
	filter string
	prof   *profile.MQTT
	byID   map[string]*device // by lowercased ID; nil when the profile has no device_id path
	single *device            // the only device, when the profile has no device_id path
}

// lookup finds the route's device for a payload; ok is false when the
// payload's device ID is absent (id "") or belongs to no device (id set).
func (r *route) lookup(payload []byte) (d *device, id string, ok bool) {
	if r.byID == nil {
		return r.single, "", true
	}
	id, found := deviceID(r.prof, payload)
	if !found {
		return nil, "", false
	}
	d = r.byID[strings.ToLower(id)]
	return d, id, d != nil
}

// add puts device d with mapping p on the broker. Device IDs are matched
// case-insensitively: DevEUIs are hex, and ChirpStack writes them in lower
// case where The Things Stack uses upper case.
func (b *broker) add(sd *source.Device, p *profile.MQTT, filter string, hasID bool) error {
	var r *route
	for _, x := range b.routes {
		if x.prof == p {
			r = x
			continue
		}
		if x.filter == filter && (!hasID || x.byID == nil) {
			return fmt.Errorf("topic filter %q is also used by device %q's profile, and without a device_id path the two cannot be told apart", filter, x.anyDevice())
		}
	}
	if r == nil {
		r = &route{filter: filter, prof: p}
		if hasID {
			r.byID = map[string]*device{}
		}
		b.routes = append(b.routes, r)
		if !contains(b.filters, filter) {
			b.filters = append(b.filters, filter)
		}
	}
	d := &device{Device: *sd, prof: p, broker: b, writing: make(chan struct{}, 1)}
	if !hasID {
		if r.single != nil {
			return fmt.Errorf("device %q has the same profile on the same broker, and without a device_id path the profile serves one device", r.single.Name)
		}
		r.single = d
		b.devices = append(b.devices, d)
		return nil
	}
	key := strings.ToLower(sd.ID)
	for _, x := range b.routes {
		if other := x.byID[key]; other != nil {
			return fmt.Errorf("id %q is also device %q's on this broker", sd.ID, other.Name)
		}
	}
	r.byID[key] = d
	b.devices = append(b.devices, d)
	return nil
}

func (r *route) anyDevice() string {
	if r.single != nil {
		return r.single.Name
	}
	for _, d := range r.byID {
		return d.Name
	}
	return ""
}

// dispatch finds the device a message on topic is for. Routes with a
// device_id path are tried first, so a profile without one does not
// swallow messages another profile can attribute. reason is the drop
// reason when d is nil.
func (b *broker) dispatch(topic string, payload []byte) (d *device, id, reason string) {
	reason = "no_route"
	for pass := 0; pass < 2; pass++ {
		for _, r := range b.routes {
			if (pass == 0) != (r.byID != nil) || !matchTopic(r.filter, topic) {
				continue
			}
			d, rid, ok := r.lookup(payload)
			if ok {
				return d, rid, ""
			}
			if rid != "" {
				id, reason = rid, "unknown_device"
			} else if reason == "no_route" {
				reason = "no_device_id"
			}
		}
	}
	return nil, id, reason
}

// topicOnly returns the device a topic alone identifies: the single device
// of a profile without a device_id path whose filter matches.
func (b *broker) topicOnly(topic string) *device {
	for _, r := range b.routes {
		if r.byID == nil && matchTopic(r.filter, topic) {
			return r.single
		}
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
