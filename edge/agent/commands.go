package agent

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"

	"github.com/ponte-city/ponte/edge/command"
	"github.com/ponte-city/ponte/edge/source"
	"github.com/ponte-city/ponte/edge/source/modbus"
	"github.com/ponte-city/ponte/edge/uplink"
	"github.com/ponte-city/ponte/internal/profile"
	"github.com/ponte-city/ponte/wire"
)

// Commands (issue 16). The agent runs one command.Executor. Its journal
// is in the buffer's folder, in CommandsDir (the buffer ignores what is
// not a segment), so that a gateway's state stays in one place and moves
// with it. The executor's devices are the site's devices with their
// profiles as loaded, at start and again at each reload (SetDevices);
// each is written through whichever running source polls it and
// implements source.Writer (routedWriter), so a reload that replaces the
// sources does not strand the executor. The uplink hands it every payload of the command topic and publishes its
// reports; after every new connection the executor publishes again the
// final reports the broker had not acknowledged.

// CommandsDir is the executor's folder inside the buffer's folder.
const CommandsDir = "commands"

// writerSet maps each device to the running source that writes it.
type writerSet map[string]source.Writer

// routedWriter writes a device through the source that polls it now.
type routedWriter struct {
	device  string
	writers *atomic.Pointer[writerSet]
}

// WritePoint implements source.Writer.
func (w routedWriter) WritePoint(ctx context.Context, req source.WriteRequest) (float64, error) {
	if set := w.writers.Load(); set != nil {
		if wr := (*set)[w.device]; wr != nil {
			return wr.WritePoint(ctx, req)
		}
	}
	return 0, fmt.Errorf("device %s: no running source writes it: %w", w.device, source.ErrUnknownDevice)
}

// setWriters records which of srcs write which devices: every source
// that implements source.Writer writes all its devices.
func (a *Agent) setWriters(srcs []namedSource) {
	set := writerSet{}
	for _, s := range srcs {
		if w, ok := s.src.(source.Writer); ok {
			for _, d := range s.devices {
				set[d] = w
			}
		}
	}
	a.writers.Store(&set)
}

// newExecutor creates the command executor for site, its journal under
// bufDir, publishing through report.
func (a *Agent) newExecutor(site *Site, bufDir string, report func(context.Context, *wire.Report) error) (*command.Executor, error) {
	e, err := command.New(command.Config{Gateway: site.Gateway.ID, Devices: a.commandDevices(site), Dir: filepath.Join(bufDir, CommandsDir),
		Report: report, Logger: a.log.With("part", "commands"), Registerer: a.reg})
	if err != nil {
		return nil, fmt.Errorf("commands: %w", err)
	}
	return e, nil
}

// commandDevices are site's devices as the executor sees them: the
// profile loaded with the site, written through routedWriter.
func (a *Agent) commandDevices(site *Site) map[string]command.Device {
	devs := map[string]command.Device{}
	for _, d := range site.sources {
		cd := command.Device{Profile: d.Profile, Writer: routedWriter{device: d.Name, writers: &a.writers}}
		if d.Profile.Kind == profile.KindModbus {
			cd.Timeout = d.Timeout
			if cd.Timeout == 0 {
				cd.Timeout = modbus.DefaultTimeout
			}
		}
		devs[d.Name] = cd
	}
	return devs
}

// reportVia returns the executor's Report function: the forwarder's
// PublishReport, once the forwarder exists.
func reportVia(f *atomic.Pointer[uplink.Forwarder]) func(context.Context, *wire.Report) error {
	return func(ctx context.Context, r *wire.Report) error {
		fw := f.Load()
		if fw == nil {
			return uplink.ErrNotConnected
		}
		return fw.PublishReport(ctx, r)
	}
}
