package app

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/ponte-city/ponte/wire"
)

type nopApplier struct{ n int }

func (a *nopApplier) Apply(string, uint64, *wire.Batch) { a.n++ }

func TestAppliedLog(t *testing.T) {
	var out bytes.Buffer
	next := &nopApplier{}
	a := appliedLog{next: next, log: slog.New(slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	a.Apply("gw1", 7, &wire.Batch{Seqs: []uint64{1, 2, 3, 5, 7, 8}, Readings: make([]wire.Reading, 6)})
	if next.n != 1 {
		t.Fatalf("the twin got %d batches, want 1", next.n)
	}
	line := out.String()
	for _, want := range []string{`msg="` + AppliedMsg + `"`, "gateway=gw1", "epoch=7", "seqs=1-3,5,7-8", "readings=6"} {
		if !strings.Contains(line, want) {
			t.Errorf("log line %q lacks %s", line, want)
		}
	}
	out.Reset()
	a.log = slog.New(slog.NewTextHandler(&out, nil))
	a.Apply("gw1", 7, &wire.Batch{Seqs: []uint64{9}, Readings: make([]wire.Reading, 1)})
	if out.Len() != 0 || next.n != 2 {
		t.Errorf("at Info level: logged %q, applied %d batches (want nothing logged, 2 applied)", out.String(), next.n)
	}
}
