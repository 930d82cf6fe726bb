package service_test

import (
	"context"
	"errors"
	"testing"

	"github.com/ponte-city/ponte/ingest/ingesttest"
	"github.com/ponte-city/ponte/ingest/service"
	"github.com/ponte-city/ponte/wire"
)

// FuzzIntake feeds arbitrary payloads to the pipeline as gateway gw1's:
// whatever arrives, Process must not panic, must either refuse the batch
// as a whole (dead-lettered, no ack) or account for each of its readings
// (written, duplicate or dead-lettered) and acknowledge, and must keep
// taking gw1's next good batch.
func FuzzIntake(f *testing.F) {
	f.Add(ingesttest.BatchFor("gw1", 1, 1, 5))
	f.Add(ingesttest.BatchFor("gw2", 1, 1, 5))
	f.Add(ingesttest.BatchFor("gw1", 1, 1, 1)[:20])
	f.Add([]byte("PNB\x01"))
	f.Add([]byte{})
	e := newEnv(f, nil)
	ctx := context.Background()
	next := uint64(1 << 40)
	f.Fuzz(func(t *testing.T, payload []byte) {
		res := e.svc.Process(ctx, job("gw1", payload))
		var inv *service.InvalidError
		switch {
		case errors.As(res.Err, &inv):
			if res.HasAck || inv.Reason == "" {
				t.Fatalf("invalid batch with ack or without reason: %+v", res)
			}
		case res.Err != nil:
			t.Fatalf("unexpected error: %v", res.Err)
		default:
			b, err := wire.Decode(payload)
			if err != nil {
				t.Fatalf("accepted a payload that does not decode: %v", err)
			}
			if !res.HasAck || res.Written+res.Duplicates+res.DeadLettered != len(b.Readings) {
				t.Fatalf("accepted batch of %d readings: %+v", len(b.Readings), res)
			}
		}
		next += 3
		res = e.svc.Process(ctx, job("gw1", ingesttest.BatchFor("gw1", 99, next, next+2)))
		if res.Err != nil || res.Written+res.DeadLettered != 3 {
			t.Fatalf("good batch after the fuzzed one: %+v", res)
		}
	})
}
