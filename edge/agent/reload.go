package agent

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
)

// supervise runs the sources of site, swapping them on reload, until ctx
// is cancelled; when it returns no source is running.
func (a *Agent) supervise(ctx context.Context, site *Site) {
	a.mu.Lock()
	srcs := a.initial
	a.initial = nil
	a.mu.Unlock()
	a.rec.setDevices(deviceNames(site))
	a.m.devices.Set(float64(len(site.Devices)))
	a.setWriters(srcs)
	cur := startSources(ctx, a.log, srcs, a.emit)
	a.ready.Store(true)
	a.m.ready.Set(1)
	for {
		select {
		case <-ctx.Done():
			cur.stop()
			return
		case req := <-a.reloads:
			cur.stop()
			old := a.currentSite()
			a.rec.setDevices(deviceNames(req.site))
			kept := map[string]bool{}
			for _, n := range deviceNames(req.site) {
				kept[n] = true
			}
			for _, n := range deviceNames(old) {
				if !kept[n] {
					forgetDevice(n, a.srcMetrics.PollDuration, a.srcMetrics.Success, a.srcMetrics.Errors,
						a.srcMetrics.LastGood, a.srcMetrics.Readings, a.srcMetrics.Skipped, a.srcMetrics.Late,
						a.mqttMetrics.FieldsMissing, a.mqttMetrics.Silent, a.m.refused)
				}
			}
			a.mu.Lock()
			a.site = req.site
			a.mu.Unlock()
			a.m.devices.Set(float64(len(req.site.Devices)))
			a.setWriters(req.srcs)
			if e := a.cmds.Load(); e != nil {
				if err := e.SetDevices(a.commandDevices(req.site)); err != nil {
					a.log.Error("commands keep the devices of before the reload", "err", err)
				}
			}
			cur = startSources(ctx, a.log, req.srcs, a.rec.emit)
			close(req.done)
		}
	}
}

func deviceNames(s *Site) []string {
	out := make([]string, len(s.Devices))
	for i, d := range s.Devices {
		out[i] = d.Name
	}
	return out
}

// Reload re-reads the site config and, if only the devices changed,
// replaces the running sources with ones for the new device list; the
// buffer and the uplink keep running. A config with errors, or one that
// changes a setting only a restart applies (ErrRestartNeeded), is refused
// with an error and logged; the running devices then stay as they were.
func (a *Agent) Reload(ctx context.Context) error {
	err := a.reload(ctx)
	switch {
	case err == nil:
		a.m.reloads.WithLabelValues("ok").Inc()
	case errors.Is(err, ErrRestartNeeded):
		a.m.reloads.WithLabelValues("refused").Inc()
		a.log.Error("reload refused", "err", err)
	default:
		a.m.reloads.WithLabelValues("error").Inc()
		a.log.Error("reload failed, devices unchanged", "err", err)
	}
	return err
}

func (a *Agent) reload(ctx context.Context) error {
	if !a.running.Load() {
		return ErrNotRunning
	}
	site, err := Load(a.cfg.Path, a.cfg.Load)
	if err != nil {
		return fmt.Errorf("reload: %w", err) // the errors name the file
	}
	old := a.currentSite()
	if what := restartNeeded(old, site); len(what) > 0 {
		return fmt.Errorf("reload %s: %s changed (%w: the devices were not reloaded either)", a.cfg.Path, strings.Join(what, ", "), ErrRestartNeeded)
	}
	srcs, err := a.buildSources(site)
	if err != nil {
		return fmt.Errorf("reload %s: %w", a.cfg.Path, err)
	}
	req := reloadRequest{site: site, srcs: srcs, done: make(chan struct{})}
	select {
	case a.reloads <- req:
	case <-a.stopped:
		return ErrNotRunning
	case <-ctx.Done():
		return fmt.Errorf("reload: %w", ctx.Err())
	}
	select {
	case <-req.done:
	case <-a.stopped:
		return ErrNotRunning
	case <-ctx.Done():
		return fmt.Errorf("reload: %w", ctx.Err())
	}
	added, removed := diffDevices(old, site)
	a.log.Info("site config reloaded", "devices", len(site.Devices), "added", added, "removed", removed)
	return nil
}

// restartNeeded names the sections of the site config that differ and
// that a reload cannot apply.
func restartNeeded(old, cur *Site) []string {
	var out []string
	for _, s := range []struct {
		name     string
		was, now any
	}{
		{"gateway", old.Gateway, cur.Gateway},
		{"uplink", old.Uplink.ForReload(), cur.Uplink.ForReload()},
		{"buffer", old.Buffer, cur.Buffer},
		{"http", old.HTTP, cur.HTTP},
	} {
		if !reflect.DeepEqual(s.was, s.now) {
			out = append(out, s.name)
		}
	}
	return out
}

// diffDevices lists the device names added and removed.
func diffDevices(old, cur *Site) (added, removed []string) {
	was := map[string]bool{}
	for _, n := range deviceNames(old) {
		was[n] = true
	}
	for _, n := range deviceNames(cur) {
		if !was[n] {
			added = append(added, n)
		}
		delete(was, n)
	}
	for _, n := range deviceNames(old) {
		if was[n] {
			removed = append(removed, n)
		}
	}
	return added, removed
}
