package twin

import (
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/ponte-city/ponte/edge/agent"
	"github.com/ponte-city/ponte/internal/profile"
)

// SitesFromConfigs reads the gateways' site configs at paths (validated
// as ponte-edge --check does, without the gateway's own secret and TLS
// files) and returns a Site per device: its gateway, name, entity ID,
// area, location, interval (agent.DefaultInterval when the config gives
// none) and its profile's category. profilesDir, if not empty, overrides
// the configs' profiles directory. A device without a location is an
// error: the twin cannot place it. Every problem of every file is
// reported, joined.
func SitesFromConfigs(paths []string, profilesDir string) ([]Site, error) {
	var sites []Site
	var errs []error
	profiles := map[string]*profile.Profile{}
	for _, path := range paths {
		s, err := agent.Load(path, agent.LoadOptions{Offline: true, ProfilesDir: profilesDir})
		if err != nil {
			errs = append(errs, fmt.Errorf("twin sites: %s: %w", path, err))
			continue
		}
		for i, d := range s.Devices {
			file := filepath.Join(s.Profiles, d.Profile+".yaml")
			p, ok := profiles[file]
			if !ok {
				if p, err = profile.Load(file); err != nil {
					errs = append(errs, fmt.Errorf("twin sites: %s: devices[%d] (%s): load profile: %w", path, i, d.Name, err))
					continue
				}
				profiles[file] = p
			}
			if d.Location == nil {
				errs = append(errs, fmt.Errorf("twin sites: %s: devices[%d] (%s): location: required (expected {lon, lat} to place the site in the twin)", path, i, d.Name))
				continue
			}
			iv := d.Interval.D()
			if iv == 0 {
				iv = agent.DefaultInterval
			}
			sites = append(sites, Site{Gateway: s.Gateway.ID, Device: d.Name, Entity: d.Entity,
				Category: p.Category, Lon: d.Location.Lon, Lat: d.Location.Lat,
				Interval: time.Duration(iv), Area: d.Area})
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return sites, nil
}
