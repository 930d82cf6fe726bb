//go:build ha

package ha

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ponte-city/ponte/ingest/replica"
	"github.com/ponte-city/ponte/internal/natstest"
	"github.com/ponte-city/ponte/wire"
)

// appliedMsg is one message of the applied stream.
type appliedMsg struct {
	seq     uint64
	gateway string
	batch   *wire.Batch
}

// readApplied reads the whole applied stream as ingest's NATS user.
func (s *system) readApplied(t *testing.T) []appliedMsg {
	t.Helper()
	js := natstest.JetStream(t, s.nats.URLs(), nats.UserInfo(ingestUser, s.ingestPass), nats.MaxReconnects(-1))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	st, err := js.Stream(ctx, replica.DefaultStream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	last := info.State.LastSeq
	var out []appliedMsg
	for seq := info.State.FirstSeq; seq <= last; seq++ {
		var msg *jetstream.RawStreamMsg
		for attempt := 0; ; attempt++ {
			rctx, rcancel := context.WithTimeout(ctx, 5*time.Second)
			msg, err = st.GetMsg(rctx, seq)
			rcancel()
			if err == nil || attempt == 5 {
				break
			}
		}
		if err != nil {
			t.Fatalf("read the applied stream's seq %d of %d: %v", seq, last, err)
		}
		b, err := wire.Decode(msg.Data)
		if err != nil {
			t.Fatalf("applied stream seq %d: %v", seq, err)
		}
		out = append(out, appliedMsg{seq: seq, gateway: b.Gateway, batch: b})
	}
	return out
}

// checkStream checks that the applied stream holds every reading of every
// gateway once, with the reading sent; it returns the number of readings.
func checkStream(t *testing.T, l *load, msgs []appliedMsg) int {
	t.Helper()
	count := map[string][]int{}
	var bad []string
	readings := 0
	for _, m := range msgs {
		var gw int
		if _, err := fmt.Sscanf(m.gateway, "gw%d", &gw); err != nil || gw < 1 || gw > gateways {
			bad = append(bad, fmt.Sprintf("seq %d: gateway %q", m.seq, m.gateway))
			continue
		}
		c := count[m.gateway]
		if c == nil {
			c = make([]int, perGW+1)
			count[m.gateway] = c
		}
		for i, seq := range m.batch.Seqs {
			readings++
			if seq < 1 || seq > perGW {
				bad = append(bad, fmt.Sprintf("seq %d: %s reading seq %d out of range", m.seq, m.gateway, seq))
				continue
			}
			c[seq]++
			want, got := readingFor(l.t0, gw, seq), m.batch.Readings[i]
			if got.Device != want.Device || got.Point != want.Point || !got.Time.Equal(want.Time) || got.Value != want.Value {
				bad = append(bad, fmt.Sprintf("seq %d: %s reading %d is %+v, sent %+v", m.seq, m.gateway, seq, got, want))
			}
		}
	}
	for i := 1; i <= gateways; i++ {
		g := gwID(i)
		var missing, twice []uint64
		for seq := uint64(1); seq <= perGW; seq++ {
			n := 0
			if c := count[g]; c != nil {
				n = c[seq]
			}
			switch {
			case n == 0:
				missing = append(missing, seq)
			case n > 1:
				twice = append(twice, seq)
			}
		}
		if len(missing) > 0 || len(twice) > 0 {
			bad = append(bad, fmt.Sprintf("%s: %d readings never in the applied stream (%s), %d more than once (%s)",
				g, len(missing), ranges(missing), len(twice), ranges(twice)))
		}
	}
	if len(bad) > 0 {
		if len(bad) > 40 {
			bad = append(bad[:40], fmt.Sprintf("... and %d more", len(bad)-40))
		}
		t.Errorf("applied stream (%d messages, %d readings) is not every reading once:\n%s", len(msgs), readings, strings.Join(bad, "\n"))
	}
	return readings
}

// ranges writes increasing numbers as "1-5,9".
func ranges(xs []uint64) string {
	var b strings.Builder
	for i := 0; i < len(xs); {
		j := i
		for j+1 < len(xs) && xs[j+1] == xs[j]+1 {
			j++
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		if b.Len() > 200 {
			b.WriteString("...")
			break
		}
		fmt.Fprintf(&b, "%d", xs[i])
		if j > i {
			fmt.Fprintf(&b, "-%d", xs[j])
		}
		i = j + 1
	}
	return b.String()
}
