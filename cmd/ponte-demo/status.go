package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/ponte-city/ponte/edge/agent"
	"github.com/ponte-city/ponte/ingest/deadletter"
	"github.com/ponte-city/ponte/internal/influxschema"
)

// gatewayStatus is one gateway's line of the status block.
type gatewayStatus struct {
	ID, City string
	Devices  int
	// Err is why the gateway's status could not be read this round.
	Err               string
	Up, Bad, Unknown  int
	Buffered          uint64
	LastSeq, AckedSeq uint64
	Connected         bool
	DeadLetters       int // letters
	DeadReadings      int // readings in them
	InInflux          int // devices with good readings in InfluxDB
	deadDevices       []string
}

// snapshot is one round's view of the city.
type snapshot struct {
	Gateways []gatewayStatus
	// InfluxErr, DeadErr and TwinErr say which poll failed this round.
	InfluxErr, DeadErr, TwinErr string
	// Influx is the set of "gateway/device" with good readings.
	Influx map[string]bool
	// Fresh is the number of sites the twin shows fresh (-1: unknown).
	Fresh int
}

// poll reads every gateway's /status, ingest's dead letters, InfluxDB and
// the twin. A failed read is recorded in the snapshot, never an error: the
// demo goes on and shows "status unavailable" for what it could not read.
func (s *stack) poll() snapshot {
	snap := snapshot{Fresh: -1}
	influx, err := s.influxDevices()
	if err != nil {
		snap.InfluxErr = err.Error()
	}
	snap.Influx = influx
	letters, err := deadletter.List(s.dead)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		snap.DeadErr = err.Error()
	}
	if fresh, err := s.freshSites(); err != nil {
		snap.TwinErr = err.Error()
	} else {
		snap.Fresh = fresh
	}
	for _, g := range s.plan.Gateways {
		id := g.Site.Gateway.ID
		gs := gatewayStatus{ID: id, City: g.City, Devices: len(g.Site.Devices)}
		var st agent.Status
		if err := getJSON("http://"+g.HTTP+"/status", "", &st); err != nil {
			gs.Err = err.Error()
		} else {
			for _, d := range st.Devices {
				switch d.State {
				case agent.StateOK:
					gs.Up++
				case agent.StateFailing, agent.StateRefused:
					gs.Bad++ // refused: read, but ingest refuses every reading
				default:
					gs.Unknown++
				}
			}
			gs.Buffered, gs.LastSeq, gs.AckedSeq, gs.Connected = st.Buffer.Records, st.Buffer.LastSeq, st.Buffer.AckedSeq, st.Uplink.Connected
		}
		for _, l := range letters {
			if l.Gateway != id {
				continue
			}
			gs.DeadLetters++
			gs.DeadReadings += max(l.Readings, len(l.Entries)+l.EntriesOmitted, 1)
			for _, e := range l.Entries {
				if !slices.Contains(gs.deadDevices, e.Device) {
					gs.deadDevices = append(gs.deadDevices, e.Device)
				}
			}
		}
		for _, d := range g.Site.Devices {
			if influx[id+"/"+d.Name] {
				gs.InInflux++
			}
		}
		snap.Gateways = append(snap.Gateways, gs)
	}
	return snap
}

// getJSON GETs u (with an operator token when given) into v.
func getJSON(u, token string, v any) error {
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client().Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
		return fmt.Errorf("%s: %s %s", u, resp.Status, strings.TrimSpace(string(body)))
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// influxDevices returns the devices with at least one good reading in
// InfluxDB ("gateway/device"): a count of some field that is not a
// <point>_quality field, which ingest writes for bad readings.
func (s *stack) influxDevices() (map[string]bool, error) {
	q := fmt.Sprintf("SELECT count(*) FROM /.*/ GROUP BY %q, %q", influxschema.TagGateway, influxschema.TagDevice)
	var out struct {
		Results []struct {
			Error  string `json:"error"`
			Series []struct {
				Tags    map[string]string `json:"tags"`
				Columns []string          `json:"columns"`
				Values  [][]any           `json:"values"`
			} `json:"series"`
		} `json:"results"`
	}
	if err := getJSON(s.influx+"/query?"+url.Values{"db": {"ponte"}, "q": {q}}.Encode(), "", &out); err != nil {
		return nil, err
	}
	got := map[string]bool{}
	for _, r := range out.Results {
		if r.Error != "" {
			return nil, fmt.Errorf("InfluxDB: %s", r.Error)
		}
		for _, sr := range r.Series {
			for _, row := range sr.Values {
				for i, c := range sr.Columns {
					if i >= len(row) || c == "time" || strings.HasSuffix(c, influxschema.QualitySuffix) {
						continue
					}
					if n, ok := row[i].(float64); ok && n > 0 {
						got[sr.Tags[influxschema.TagGateway]+"/"+sr.Tags[influxschema.TagDevice]] = true
					}
				}
			}
		}
	}
	return got, nil
}

// freshSites counts the twin's fresh sites through the operator API
// (token-authenticated, so the demo's own polling is never rate-limited
// as a public client would be).
func (s *stack) freshSites() (int, error) {
	var fc struct {
		Features []struct {
			Properties struct {
				Freshness string `json:"freshness"`
			} `json:"properties"`
		} `json:"features"`
	}
	if err := getJSON(s.ingest+"/api/v1/entities?type=site", s.token, &fc); err != nil {
		return 0, err
	}
	n := 0
	for _, f := range fc.Features {
		if f.Properties.Freshness == "fresh" {
			n++
		}
	}
	return n, nil
}

// render writes the status block: a header, one line per gateway, and a
// line for the central side. On a terminal (tty) each line first clears
// the one it overwrites. It returns the number of lines written.
func (snap snapshot) render(w io.Writer, round int, clock string, tty bool) int {
	lines := []string{
		fmt.Sprintf("round %d  %s", round, clock),
		fmt.Sprintf("  %-26s %-8s %7s %4s %4s %4s %9s %9s %6s %7s", "GATEWAY", "CITY", "DEVICES", "UP", "BAD", "WAIT", "BUFFERED", "ACKED", "DEAD", "INFLUX"),
	}
	for _, g := range snap.Gateways {
		if g.Err != "" {
			lines = append(lines, fmt.Sprintf("  %-26s %-8s %7d  status unavailable (%s)", g.ID, g.City, g.Devices, short(g.Err)))
			continue
		}
		link := ""
		if !g.Connected {
			link = "  uplink down"
		}
		lines = append(lines, fmt.Sprintf("  %-26s %-8s %7d %4d %4d %4d %9d %9s %6d %7s%s", g.ID, g.City, g.Devices, g.Up, g.Bad, g.Unknown,
			g.Buffered, fmt.Sprintf("%d/%d", g.AckedSeq, g.LastSeq), g.DeadReadings, fmt.Sprintf("%d/%d", g.InInflux, g.Devices), link))
	}
	central := "  twin: "
	if snap.TwinErr != "" {
		central += "status unavailable (" + short(snap.TwinErr) + ")"
	} else {
		central += fmt.Sprintf("%d sites fresh", snap.Fresh)
	}
	if snap.InfluxErr != "" {
		central += "; InfluxDB: status unavailable (" + short(snap.InfluxErr) + ")"
	}
	if snap.DeadErr != "" {
		central += "; dead letters: status unavailable (" + short(snap.DeadErr) + ")"
	}
	lines = append(lines, central)
	for _, l := range lines {
		if tty {
			l = "\x1b[2K" + l
		}
		fmt.Fprintln(w, l)
	}
	return len(lines)
}

// short keeps an error message to one short line.
func short(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) > 60 {
		return s[:57] + "..."
	}
	return s
}
