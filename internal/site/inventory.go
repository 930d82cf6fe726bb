package site

import (
	"errors"
	"fmt"
	"slices"

	"github.com/ponte-city/ponte/internal/profile"
)

// Inventory is every gateway's site config read together: the one
// description of each device (its gateway, profile and category, position
// and area) that the agent polls, ingest tags readings with and the twin
// places on its map. It is built once and not changed: a new inventory
// replaces it (the enrolment registry of ponte-ctl enroll keeps one site
// config per gateway and builds its inventory from them). It is safe for
// concurrent use.
type Inventory struct {
	sites   []*Site
	gateway map[string]*Site
	device  map[deviceKey]*Device
}

type deviceKey struct{ gateway, device string }

// NewInventory makes an inventory of sites; two sites of one gateway are
// an error naming both files.
func NewInventory(sites ...*Site) (*Inventory, error) {
	inv := &Inventory{gateway: map[string]*Site{}, device: map[deviceKey]*Device{}}
	var errs []error
	for _, s := range sites {
		if other, dup := inv.gateway[s.Gateway.ID]; dup {
			errs = append(errs, fmt.Errorf("%s: gateway.id: %q is also the gateway of %s (expected one site config per gateway)", s.File, s.Gateway.ID, other.File))
			continue
		}
		inv.gateway[s.Gateway.ID] = s
		inv.sites = append(inv.sites, s)
		for i := range s.Devices {
			d := &s.Devices[i]
			inv.device[deviceKey{s.Gateway.ID, d.Name}] = d
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return inv, nil
}

// LoadInventory reads the site configs at paths with opt (every problem
// of every file reported, joined) and makes their inventory. Central
// services read them Offline: the gateways' own password and TLS files are
// on the gateways.
func LoadInventory(paths []string, opt Options) (*Inventory, error) {
	var sites []*Site
	var errs []error
	opt.loaded = map[string]*profile.Profile{}
	for _, p := range paths {
		s, err := Load(p, opt)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		sites = append(sites, s)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return NewInventory(sites...)
}

// Sites returns the sites in the order they were given.
func (inv *Inventory) Sites() []*Site { return slices.Clone(inv.sites) }

// Gateway returns the site of a gateway.
func (inv *Inventory) Gateway(id string) (*Site, bool) {
	s, ok := inv.gateway[id]
	return s, ok
}

// Device returns a gateway's device by name.
func (inv *Inventory) Device(gateway, device string) (*Device, bool) {
	d, ok := inv.device[deviceKey{gateway, device}]
	return d, ok
}

// Devices returns the device names of every gateway.
func (inv *Inventory) Devices() map[string][]string {
	m := make(map[string][]string, len(inv.sites))
	for _, s := range inv.sites {
		names := make([]string, len(s.Devices))
		for i, d := range s.Devices {
			names[i] = d.Name
		}
		m[s.Gateway.ID] = names
	}
	return m
}
