//go:build ha

package ha

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/ponte-city/ponte/ingest/ingesttest"
	"github.com/ponte-city/ponte/wire"
)

// points are the meters' points the gateways send, in turn.
var points = []string{"import_energy", "total_power", "voltage_l1", "frequency"}

func devName(d int) string { return "m" + strconv.Itoa(d) }

// readingFor is reading seq of gateway gw (1-based), relative to t0: the
// device and point rotate, the time advances a millisecond per seq, and
// every value is a binary fraction (it survives InfluxDB exactly);
// import_energy only grows.
func readingFor(t0 time.Time, gw int, seq uint64) wire.Reading {
	pt := points[(seq/devices)%uint64(len(points))]
	r := wire.Reading{Device: devName(int(seq % devices)), Point: pt, Time: t0.Add(time.Duration(seq) * time.Millisecond)}
	switch pt {
	case "import_energy":
		r.Value, r.Unit = wire.Float(float64(gw)*1000+float64(seq)/8), "kWh"
	case "total_power":
		r.Value, r.Unit = wire.Float(float64(seq%997)+0.25), "W"
	case "voltage_l1":
		r.Value, r.Unit = wire.Float(220+float64(seq%40)/4), "V"
	default:
		r.Value, r.Unit = wire.Float(50+float64(seq%8)/16), "Hz"
	}
	return r
}

// load is the twenty gateways publishing at a paced rate.
type load struct {
	t0    time.Time
	start time.Time
	gws   []*ingesttest.Gateway
	wg    sync.WaitGroup
	mu    sync.Mutex
	errs  []error
}

// startLoad connects every gateway (gateway i to node i mod 3 first, the
// others after it) and publishes perGW readings each, paced at rate.
func startLoad(ctx context.Context, t *testing.T, s *system) *load {
	t.Helper()
	l := &load{t0: time.Now().Add(-2 * time.Minute).Truncate(time.Millisecond), start: time.Now()}
	topics := wire.Topics{Prefix: "ponte"}
	for i := 1; i <= gateways; i++ {
		i := i
		g := &ingesttest.Gateway{ID: gwID(i), Epoch: 7, Topics: topics, Batch: batchSize, Window: 4,
			Payload: func(first, last uint64) []byte { return l.batch(i, first, last) }}
		var urls []string
		for k := range s.nats.Nodes {
			urls = append(urls, s.nats.Nodes[(i+k)%len(s.nats.Nodes)].MQTT)
		}
		c, err := g.ConnectAny(urls, s.gwPass[g.ID])
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Disconnect(50) })
		l.gws = append(l.gws, g)
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			if err := l.run(ctx, g, c); err != nil {
				l.mu.Lock()
				l.errs = append(l.errs, err)
				l.mu.Unlock()
			}
		}()
	}
	return l
}

func (l *load) batch(gw int, first, last uint64) []byte {
	b := &wire.Batch{Gateway: gwID(gw), Epoch: 7}
	for s := first; s <= last; s++ {
		b.Seqs = append(b.Seqs, s)
		b.Readings = append(b.Readings, readingFor(l.t0, gw, s))
	}
	data, err := wire.Encode(nil, b)
	if err != nil {
		panic(fmt.Sprintf("encode a generated batch: %v", err)) // a bug in the test
	}
	return data
}

// run publishes g's readings: up to the paced target, whole batches, and
// on until all are acknowledged.
func (l *load) run(ctx context.Context, g *ingesttest.Gateway, c mqtt.Client) error {
	for {
		acked := g.Acked()
		if acked >= perGW {
			return nil
		}
		due := uint64(rate * time.Since(l.start).Seconds())
		target := min(perGW, (due/batchSize+1)*batchSize)
		if target <= acked {
			select {
			case <-ctx.Done():
				return fmt.Errorf("gateway %s: acked %d of %d: %w", g.ID, acked, perGW, ctx.Err())
			case <-time.After(batchSize * time.Second / time.Duration(rate) / 4):
			}
			continue
		}
		if err := g.Run(ctx, c, target); err != nil {
			return err
		}
	}
}

// acked returns every gateway's acknowledged seq.
func (l *load) acked() []uint64 {
	out := make([]uint64, len(l.gws))
	for i, g := range l.gws {
		out[i] = g.Acked()
	}
	return out
}

// total is the sum of acknowledged readings.
func (l *load) total() uint64 {
	var n uint64
	for _, a := range l.acked() {
		n += a
	}
	return n
}
