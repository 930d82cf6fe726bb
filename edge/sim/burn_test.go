package sim

import (
	"context"
	"testing"
	"time"

	"github.com/ponte-city/ponte/internal/testenv"
)

// Burn spends CPU on its threads and returns once its context ends.
func TestBurn(t *testing.T) {
	cpu0, err := testenv.SelfCPU()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { Burn(ctx, 2); close(done) }()
	testenv.Eventually(t, 30*time.Second, "Burn to use CPU", func() bool {
		cpu, _ := testenv.SelfCPU()
		return cpu-cpu0 > 0.05
	})
	cancel()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("Burn still running 30 s after its context ended")
	}
}
