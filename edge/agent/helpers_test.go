package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/ponte-city/ponte/edge/sim"
	"github.com/ponte-city/ponte/internal/profile"
	"github.com/ponte-city/ponte/wire"
)

// startModbusSim serves units of the profile over Modbus TCP on loopback
// until the test ends, and returns the address.
func startModbusSim(t testing.TB, profileFile string, units ...uint8) string {
	t.Helper()
	p, err := profile.Load(profileFile)
	if err != nil {
		t.Fatal(err)
	}
	var us []*sim.ModbusUnit
	for _, id := range units {
		u, err := sim.NewModbusUnit(p, id, int64(id))
		if err != nil {
			t.Fatal(err)
		}
		u.Update(time.Now())
		us = append(us, u)
	}
	srv := sim.NewModbusServer(nil, us...)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.ServeTCP(ctx, ln)
	}()
	go func() { // values follow their patterns, as ponte-sim's --update does
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-tick.C:
				for _, u := range us {
					u.Update(now)
				}
			}
		}
	}()
	t.Cleanup(func() { cancel(); ln.Close(); <-done })
	return ln.Addr().String()
}

// mqttClient connects a paho client to url, disconnected when the test ends.
func mqttClient(t testing.TB, url, id string) paho.Client {
	t.Helper()
	c := paho.NewClient(paho.NewClientOptions().AddBroker(url).SetClientID(id).SetAutoReconnect(true).
		SetConnectRetry(true).SetConnectRetryInterval(200 * time.Millisecond).SetOrderMatters(false))
	tok := c.Connect()
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect %s: %v", url, tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(100) })
	return c
}

// key names one reading at ingest.
type key struct {
	epoch, seq uint64
}

// acknowledger stands in for ingest: it decodes every batch, keeps each
// (epoch, seq)'s record bytes, counts duplicates and conflicts (the same
// (epoch, seq) carrying another reading), and, while acking is on, acks
// the highest sequence number up to which it has everything.
type acknowledger struct {
	t  testing.TB
	c  paho.Client
	mu sync.Mutex

	acking    bool
	records   map[key][]byte
	seen      map[key]bool // since the last mark
	dups      int
	conflicts []string
	contig    map[uint64]uint64 // epoch -> highest seq with all before it received
	byDevice  map[string]int
	epochs    map[uint64]bool
	status    map[string]wire.Status
	decodeErr error
}

func newAcknowledger(t testing.TB, url string, acking bool) *acknowledger {
	a := &acknowledger{t: t, acking: acking, records: map[key][]byte{}, seen: map[key]bool{}, contig: map[uint64]uint64{},
		byDevice: map[string]int{}, epochs: map[uint64]bool{}, status: map[string]wire.Status{}}
	a.c = mqttClient(t, url, fmt.Sprintf("test-ingest-%d", time.Now().UnixNano()))
	topics := wire.Topics{}
	if tok := a.c.Subscribe(topics.UpFilter(""), 1, a.onBatch); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	if tok := a.c.Subscribe(topics.StatusFilter(), 1, a.onStatus); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	return a
}

func (a *acknowledger) onStatus(_ paho.Client, m paho.Message) {
	s, err := wire.DecodeStatus(m.Payload())
	a.mu.Lock()
	defer a.mu.Unlock()
	if err != nil {
		a.decodeErr = err
		return
	}
	a.status[s.Gateway] = s
}

// lastStatus returns the last status gateway published, if any.
func (a *acknowledger) lastStatus(gateway string) (wire.Status, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	s, ok := a.status[gateway]
	return s, ok
}

func (a *acknowledger) onBatch(_ paho.Client, m paho.Message) {
	b, err := wire.Decode(m.Payload())
	a.mu.Lock()
	if err != nil {
		a.decodeErr = err
		a.mu.Unlock()
		return
	}
	a.epochs[b.Epoch] = true
	for i := range b.Readings {
		k := key{b.Epoch, b.Seqs[i]}
		rec := wire.AppendRecord(nil, &b.Readings[i])
		if prev, ok := a.records[k]; ok {
			a.dups++
			if !bytes.Equal(prev, rec) {
				a.conflicts = append(a.conflicts, fmt.Sprintf("seq %d: %+v", k.seq, b.Readings[i]))
			}
		} else {
			a.records[k] = rec
			a.byDevice[b.Readings[i].Device]++
		}
		a.seen[k] = true
	}
	c := a.contig[b.Epoch]
	for {
		if _, ok := a.records[key{b.Epoch, c + 1}]; !ok {
			break
		}
		c++
	}
	a.contig[b.Epoch] = c
	acking := a.acking
	a.mu.Unlock()
	if acking && c > 0 {
		a.c.Publish(wire.Topics{}.Ack(b.Gateway), 1, false, wire.EncodeAck(wire.Ack{Gateway: b.Gateway, Epoch: b.Epoch, Seq: c}))
	}
}

func (a *acknowledger) setAcking(on bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.acking = on
}

// mark forgets which records were seen, so seenAll can tell what arrived
// since.
func (a *acknowledger) mark() map[key][]byte {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.seen = map[key]bool{}
	out := make(map[key][]byte, len(a.records))
	for k, v := range a.records {
		out[k] = v
	}
	return out
}

func (a *acknowledger) seenAll(ks map[key][]byte) (missing int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for k := range ks {
		if !a.seen[k] {
			missing++
		}
	}
	return missing
}

func (a *acknowledger) devices() map[string]int {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := map[string]int{}
	for k, v := range a.byDevice {
		out[k] = v
	}
	return out
}

// check fails t on decode errors, conflicts, several epochs, or a gap in
// the sequence numbers; it returns the highest sequence number received.
func (a *acknowledger) check(t testing.TB) (last uint64) {
	t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.decodeErr != nil {
		t.Errorf("acknowledger: %v", a.decodeErr)
	}
	if len(a.conflicts) > 0 {
		t.Errorf("%d (epoch, seq) carried two different readings, e.g. %s", len(a.conflicts), a.conflicts[0])
	}
	if len(a.epochs) != 1 {
		t.Errorf("batches of %d epochs, want 1", len(a.epochs))
	}
	for k := range a.records {
		last = max(last, k.seq)
	}
	for e := range a.epochs {
		if c := a.contig[e]; c != last {
			t.Errorf("sequence gap: have every seq up to %d, but seqs up to %d (%d records)", c, last, len(a.records))
		}
	}
	return last
}

// get fetches url and returns the status code and body.
func get(t testing.TB, url string) (int, string) {
	t.Helper()
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return resp.StatusCode, string(body)
}

// siteYAML is a site config for tests: an uplink to broker, a buffer in
// dir, HTTP on listen, and the devices given as YAML list items.
func siteYAML(gateway, broker, dir, listen string, devices ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "gateway: {id: %s}\nprofiles: %s\nuplink:\n  broker: %s\n  batch_max_wait: 100ms\n  ack_timeout: 2s\n  backoff_base: 100ms\n  backoff_max: 1s\n",
		gateway, mustAbs(shippedProfiles), broker)
	fmt.Fprintf(&b, "buffer: {dir: %s, sync_interval: 50ms}\nhttp: {listen: %q}\ndevices:\n", filepath.Join(dir, "buffer"), listen)
	if len(devices) == 0 {
		b.WriteString("  []\n")
	}
	for _, d := range devices {
		b.WriteString(d)
	}
	return b.String()
}

func modbusDevice(name, addr string, unit int) string {
	return fmt.Sprintf("  - {name: %s, profile: eastron-sdm630-v2, address: \"tcp://%s\", unit: %d, interval: 200ms, timeout: 500ms, location: {lon: 11.2558, lat: 43.7696}}\n", name, addr, unit)
}

func mustAbs(p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		panic(err)
	}
	return a
}

// tryGet fetches url; errors are returned, not fatal (the server may not
// be up yet).
func tryGet(url string) (int, string, error) {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), err
}

// ackedAbove reports whether a /status body shows the buffer acknowledged
// above seq.
func ackedAbove(body string, seq uint64) bool {
	var st Status
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		return false
	}
	return st.Buffer.AckedSeq > seq
}
