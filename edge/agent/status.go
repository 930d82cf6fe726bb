package agent

import (
	"github.com/ponte-city/ponte/edge/command"
	"net/url"
	"time"

	"github.com/ponte-city/ponte/internal/site"
)

// Status is what GET /status returns.
type Status struct {
	Gateway       string         `json:"gateway"`
	Version       string         `json:"version"`
	Started       time.Time      `json:"started"`
	UptimeSeconds float64        `json:"uptime_seconds"`
	Ready         bool           `json:"ready"`
	Buffer        BufferStatus   `json:"buffer"`
	Uplink        UplinkStatus   `json:"uplink"`
	Devices       []DeviceStatus `json:"devices"`
	// Commands are the last 20 commands, newest first (issue 16).
	Commands []command.Entry `json:"commands"`
	// CommandJournal, when set, says why the command journal could not be
	// read: every command is refused until a technician repairs it.
	CommandJournal string `json:"command_journal_error,omitempty"`
}

// BufferStatus is the buffer's depth and position. Epoch is a string:
// it is a random 64-bit number, beyond what JSON numbers carry exactly.
type BufferStatus struct {
	Dir              string  `json:"dir"`
	Records          uint64  `json:"records"`
	MemoryRecords    int     `json:"memory_records"`
	Bytes            int64   `json:"bytes"`
	OldestAgeSeconds float64 `json:"oldest_age_seconds"`
	Epoch            uint64  `json:"epoch,string"`
	LastSeq          uint64  `json:"last_seq"`
	DurableSeq       uint64  `json:"durable_seq"`
	AckedSeq         uint64  `json:"acked_seq"`
	Degraded         bool    `json:"degraded"`
}

// UplinkStatus is the forwarder's state.
type UplinkStatus struct {
	Broker    string     `json:"broker"`
	Connected bool       `json:"connected"`
	AckedSeq  uint64     `json:"acked_seq"`
	SentSeq   uint64     `json:"sent_seq"`
	InFlight  int        `json:"in_flight"`
	LastAck   *time.Time `json:"last_ack,omitempty"`
	LastError string     `json:"last_error,omitempty"`
}

// DeviceStatus is one device's configuration and state, from its readings.
type DeviceStatus struct {
	Name        string     `json:"name"`
	Profile     string     `json:"profile"`
	Kind        string     `json:"kind"`
	Address     string     `json:"address"`
	State       string     `json:"state"`
	LastGood    *time.Time `json:"last_good,omitempty"`
	LastRead    *time.Time `json:"last_read,omitempty"`
	LastReason  string     `json:"last_reason,omitempty"`
	Readings    uint64     `json:"readings"`
	BadReadings uint64     `json:"bad_readings"`
	// Refused is what ingest refused of the device's readings (nil if
	// nothing); State is StateRefused while it refuses every one.
	Refused  *RefusedStatus `json:"refused,omitempty"`
	Location *site.Location `json:"location,omitempty"`
	Entity   string         `json:"entity,omitempty"`
	Area     string         `json:"area,omitempty"`
}

// Status returns the agent's state now.
func (a *Agent) Status() Status {
	site := a.currentSite()
	now := time.Now()
	st := Status{
		Gateway:       site.Gateway.ID,
		Version:       a.cfg.Version,
		Started:       a.started,
		UptimeSeconds: now.Sub(a.started).Seconds(),
		Ready:         a.ready.Load(),
		Buffer:        BufferStatus{Dir: site.Buffer.Dir},
		Uplink:        UplinkStatus{Broker: redact(site.Uplink.Broker)},
		Devices:       make([]DeviceStatus, 0, len(site.Devices)),
	}
	if buf := a.buf.Load(); buf != nil {
		bs := buf.Stats()
		st.Buffer = BufferStatus{Dir: site.Buffer.Dir, Records: bs.Records, MemoryRecords: bs.MemoryRecords, Bytes: bs.Bytes,
			OldestAgeSeconds: bs.OldestAge.Seconds(), Epoch: bs.Epoch, LastSeq: bs.LastSeq, DurableSeq: bs.DurableSeq,
			AckedSeq: bs.AckedSeq, Degraded: bs.Degraded}
	}
	if up := a.up.Load(); up != nil {
		u := (*up).status()
		u.Broker = st.Uplink.Broker
		st.Uplink = u
	}
	st.Commands = []command.Entry{}
	if e := a.cmds.Load(); e != nil {
		st.Commands = e.Recent()
		st.CommandJournal = e.JournalError()
	}
	states := a.rec.states()
	for _, d := range site.Devices {
		ds := DeviceStatus{Name: d.Name, Profile: d.Profile, Kind: string(d.Kind()), Address: redact(d.Address),
			State: StateUnknown, Location: d.Location, Entity: d.Entity, Area: d.Area}
		if s, ok := states[d.Name]; ok {
			sd := deviceStatus(s)
			ds.State, ds.LastReason, ds.Readings, ds.BadReadings = sd.State, sd.LastReason, sd.Readings, sd.BadReadings
			ds.LastGood, ds.LastRead, ds.Refused = sd.LastGood, sd.LastRead, sd.Refused
		}
		st.Devices = append(st.Devices, ds)
	}
	return st
}

// deviceStatus is the state part of a device's status: what the agent
// read of it and what ingest refused of it. A device that reads well but
// whose every reading ingest refuses is StateRefused, never ok.
func deviceStatus(s deviceState) DeviceStatus {
	ds := DeviceStatus{State: s.current(), LastReason: s.lastReason, Readings: s.good + s.bad, BadReadings: s.bad,
		Refused: s.refused.status()}
	if ds.State == StateRefused {
		ds.LastReason = "refused by ingest: " + s.refused.reason
		if s.refused.detail != "" {
			ds.LastReason += " (" + s.refused.detail + ")"
		}
	}
	if !s.lastGood.IsZero() {
		t := s.lastGood.UTC()
		ds.LastGood = &t
	}
	if !s.lastRead.IsZero() {
		t := s.lastRead.UTC()
		ds.LastRead = &t
	}
	return ds
}

// redact hides a password in a URL (mqtt://user:pass@host).
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	return u.Redacted()
}
