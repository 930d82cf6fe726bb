package config

import (
	"fmt"
	"path/filepath"

	"github.com/ponte-city/ponte/internal/site"
)

// The device inventory: the gateways' site configs (internal/site) are
// the one description of every device. Ingest tags a device's readings
// with the area and type (its profile's category) its site config gives,
// treats the devices it lists as the gateway's known devices, and the twin
// places them on the map. Ingest's own config keeps only what is central:
// credentials, tokens, sinks.

// movedToSites are the fields that once described devices in ingest's
// config; they are refused with where the description lives now.
const movedToSites = "devices are described once, in their gateway's site config: list the site configs under sites: (and their firmware profile folder under profiles:) and remove this"

// validateSites checks the sites and profiles fields and the fields they
// replace, and loads the inventory.
func (c *Config) validateSites(bad func(path, format string, args ...any)) {
	for i, g := range c.Gateways {
		if g.Devices != nil {
			bad(fmt.Sprintf("gateways[%d].devices", i), "%s", movedToSites)
		}
	}
	if t := c.Twin; t != nil {
		if t.Sites != nil {
			bad("twin.sites", "moved to the top level as sites: (ingest tags readings from the same site configs the twin places)")
		}
		if t.Profiles != nil {
			bad("twin.profiles", "moved to the top level as profiles:")
		}
	}
	var paths []string
	for i, p := range c.Sites {
		m, err := filepath.Glob(c.resolve(p))
		if err != nil || len(m) == 0 {
			bad(fmt.Sprintf("sites[%d]", i), "%q matches no site config", p)
		}
		paths = append(paths, m...)
	}
	if len(c.Sites) > 0 && c.Profiles == "" {
		bad("sites", "needs profiles: (the firmware profile folder the site configs name)")
		return
	}
	if len(paths) == 0 {
		return
	}
	inv, err := site.LoadInventory(paths, site.Options{Offline: true, ProfilesDir: c.resolve(c.Profiles)})
	if err != nil {
		bad("sites", "%v", err)
		return
	}
	c.inventory = inv
}

// Inventory is the device inventory read from the site configs (empty
// without sites).
func (c *Config) Inventory() *site.Inventory {
	if c.inventory == nil {
		inv, _ := site.NewInventory()
		return inv
	}
	return c.inventory
}

// Devices returns the device names by gateway, for the gateways that have
// a site config.
func (c *Config) Devices() map[string][]string { return c.Inventory().Devices() }

// Meta returns the area and type (the profile's category) of a device
// from its site config, for InfluxDB tags (empty when no site config lists
// it). The returned function is safe for concurrent use.
func (c *Config) Meta() func(gateway, device string) (area, typ string) {
	inv := c.Inventory()
	return func(gateway, device string) (string, string) {
		d, ok := inv.Device(gateway, device)
		if !ok {
			return "", ""
		}
		return d.Area, string(d.Category())
	}
}

// refused is a field that is no longer accepted: whatever the file gives
// is kept, to be refused at its line.
type refused = any
