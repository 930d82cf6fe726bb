package twin

import (
	"github.com/ponte-city/ponte/internal/site"
)

// SitesFromInventory returns a Site per device of the gateways' site
// configs: its gateway, name, entity ID, area, location, interval
// (site.DefaultInterval when the config gives none) and its profile's
// category. Site configs require every device's location, so every device
// is placed.
func SitesFromInventory(inv *site.Inventory) []Site {
	var sites []Site
	for _, s := range inv.Sites() {
		for _, d := range s.Devices {
			if d.Location == nil {
				continue
			}
			iv := d.Interval.D()
			if iv == 0 {
				iv = site.DefaultInterval
			}
			sites = append(sites, Site{Gateway: s.Gateway.ID, Device: d.Name, Entity: d.Entity,
				Category: d.Category(), Lon: d.Location.Lon, Lat: d.Location.Lat,
				Interval: iv, Area: d.Area})
		}
	}
	return sites
}
