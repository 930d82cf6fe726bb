//go:build fault

package fault

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/ponte-city/ponte/ingest/app"
	"github.com/ponte-city/ponte/ingest/service"
	"github.com/ponte-city/ponte/wire"
)

// pointKey identifies a point in InfluxDB: a reading written twice lands
// on the same key.
type pointKey struct {
	device, field string
	ns            int64
}

// fieldOf is the InfluxDB field a reading writes (package ingest/influx).
func fieldOf(r *wire.Reading) string {
	if !r.Quality.Good() {
		return r.Point + "_quality"
	}
	return r.Point
}

// influxPoints reads every point of a gateway: key -> value as InfluxDB
// returns it (json.Number, bool or string).
func (s *system) influxPoints(t *testing.T, gw string) map[pointKey]any {
	t.Helper()
	out := map[pointKey]any{}
	series := s.influx.Query(t, fmt.Sprintf(`SELECT * FROM "energy" WHERE "gateway" = '%s' GROUP BY "device"`, gw))
	for _, se := range series {
		dev := se.Tags["device"]
		for _, row := range se.Rows() {
			tn, ok := row["time"].(json.Number)
			if !ok {
				t.Fatalf("InfluxDB row without a time: %v", row)
			}
			ns, err := tn.Int64()
			if err != nil {
				t.Fatal(err)
			}
			for col, v := range row {
				switch col {
				case "time", "area", "type", "gateway", "device":
					continue
				}
				if v != nil {
					out[pointKey{dev, col, ns}] = v
				}
			}
		}
	}
	return out
}

// sameValue reports whether InfluxDB's value is the reading's.
func sameValue(r *wire.Reading, v any) bool {
	if !r.Quality.Good() {
		_, ok := v.(string)
		return ok
	}
	switch r.Value.Kind {
	case wire.KindFloat:
		n, ok := v.(json.Number)
		f, err := strconv.ParseFloat(string(n), 64)
		return ok && err == nil && f == r.Value.F
	case wire.KindInt:
		n, ok := v.(json.Number)
		i, err := n.Int64()
		return ok && err == nil && i == r.Value.I
	case wire.KindBool:
		b, ok := v.(bool)
		return ok && b == r.Value.B
	default:
		s, ok := v.(string)
		return ok && s == r.Value.S
	}
}

// ingestLog is what ingest's log says about one gateway, over every
// incarnation.
type ingestLog struct {
	applied map[uint64]int // seq -> times handed to the twin (the buffer's epoch only)
	givenUp []string       // service.DroppedMsg lines: the ack moved past seqs never received
}

var (
	attrRe = regexp.MustCompile(`(\w+)=("(?:[^"\\]|\\.)*"|\S+)`)
)

// readIngestLog parses ingest's log for the twin applications and given-up
// gaps of each gateway and epoch.
func readIngestLog(path string, epochs map[string]uint64) (map[string]*ingestLog, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]*ingestLog{}
	for gw := range epochs {
		out[gw] = &ingestLog{applied: map[uint64]int{}}
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		line := sc.Text()
		applied := strings.Contains(line, `msg="`+app.AppliedMsg+`"`)
		given := strings.Contains(line, `msg="`+service.DroppedMsg+`"`)
		if !applied && !given {
			continue
		}
		attrs := map[string]string{}
		for _, m := range attrRe.FindAllStringSubmatch(line, -1) {
			attrs[m[1]] = strings.Trim(m[2], `"`)
		}
		gl, ok := out[attrs["gateway"]]
		if !ok {
			continue
		}
		if given {
			gl.givenUp = append(gl.givenUp, line)
			continue
		}
		if ep, _ := strconv.ParseUint(attrs["epoch"], 10, 64); ep != epochs[attrs["gateway"]] {
			continue
		}
		for _, r := range strings.Split(attrs["seqs"], ",") {
			lo, hi, isRange := strings.Cut(r, "-")
			a, err := strconv.ParseUint(lo, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("%s: seqs %q: %w", path, attrs["seqs"], err)
			}
			b := a
			if isRange {
				if b, err = strconv.ParseUint(hi, 10, 64); err != nil {
					return nil, fmt.Errorf("%s: seqs %q: %w", path, attrs["seqs"], err)
				}
			}
			for s := a; s <= b; s++ {
				gl.applied[s]++
			}
		}
	}
	return out, sc.Err()
}

// finding is the verdict on one gateway.
type finding struct {
	gw                     string
	epoch                  uint64
	accepted, acked, held  int // records on disk; up to the persisted ack; above it
	missing, wrongValue    []uint64
	extra                  int
	twinSkipped, twinTwice []uint64
	givenUp                []string
	segErrs                []string
}

func (f *finding) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s epoch %d: %d readings accepted (on the buffer's disk), %d acknowledged, %d still held unacknowledged\n",
		f.gw, f.epoch, f.accepted, f.acked, f.held)
	fmt.Fprintf(&b, "  InfluxDB: %d of %d acknowledged readings missing", len(f.missing), f.acked)
	if len(f.missing) > 0 {
		fmt.Fprintf(&b, " (seqs %s)", ranges(f.missing))
	}
	fmt.Fprintf(&b, ", %d with another value", len(f.wrongValue))
	if len(f.wrongValue) > 0 {
		fmt.Fprintf(&b, " (seqs %s)", ranges(f.wrongValue))
	}
	fmt.Fprintf(&b, ", %d points no accepted reading explains\n", f.extra)
	fmt.Fprintf(&b, "  twin: %d acknowledged readings never applied", len(f.twinSkipped))
	if len(f.twinSkipped) > 0 {
		fmt.Fprintf(&b, " (seqs %s)", ranges(f.twinSkipped))
	}
	fmt.Fprintf(&b, ", %d applied more than once", len(f.twinTwice))
	if len(f.twinTwice) > 0 {
		fmt.Fprintf(&b, " (seqs %s)", ranges(f.twinTwice))
	}
	fmt.Fprintf(&b, "\n  gaps ingest moved past without their readings: %d\n", len(f.givenUp))
	for _, l := range f.givenUp {
		fmt.Fprintf(&b, "    %s\n", l)
	}
	for _, e := range f.segErrs {
		fmt.Fprintf(&b, "  segment copy: %s\n", e)
	}
	return b.String()
}

// judge compares one gateway's accepted readings with InfluxDB and the
// twin log.
func judge(gw string, epoch, acked uint64, recs []accepted, points map[pointKey]any, il *ingestLog) *finding {
	f := &finding{gw: gw, epoch: epoch, accepted: len(recs), givenUp: il.givenUp}
	explained := map[pointKey]bool{}
	for i := range recs {
		a := &recs[i]
		k := pointKey{a.r.Device, fieldOf(&a.r), a.r.Time.UnixNano()}
		explained[k] = true
		if a.seq > acked {
			f.held++
			continue
		}
		f.acked++
		v, ok := points[k]
		switch {
		case !ok:
			f.missing = append(f.missing, a.seq)
		case !sameValue(&a.r, v):
			f.wrongValue = append(f.wrongValue, a.seq)
		}
		switch n := il.applied[a.seq]; {
		case n == 0:
			f.twinSkipped = append(f.twinSkipped, a.seq)
		case n > 1:
			f.twinTwice = append(f.twinTwice, a.seq)
		}
	}
	for k := range points {
		if !explained[k] {
			f.extra++
		}
	}
	sort.Slice(f.missing, func(i, j int) bool { return f.missing[i] < f.missing[j] })
	return f
}
