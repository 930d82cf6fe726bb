package sim

import (
	"context"
	"runtime"
	"sync"
)

// Burn runs threads CPU-bound goroutines, each on an OS thread of its own,
// until ctx ends: a fixed synthetic load that keeps about threads tasks on
// the machine's run queue (a load average of threads), for measuring the
// agent under CPU starvation (edge/agent BenchmarkAgentStarved). It raises
// GOMAXPROCS to threads, since a spinning goroutine holds a P: with fewer
// Ps than threads the load would be GOMAXPROCS, not threads. It is meant
// for a process of its own (ponte-sim --burn N), which does nothing else.
func Burn(ctx context.Context, threads int) {
	if threads > runtime.GOMAXPROCS(0) {
		runtime.GOMAXPROCS(threads)
	}
	var wg sync.WaitGroup
	for range threads {
		wg.Go(func() {
			runtime.LockOSThread()
			x := uint64(1)
			for ctx.Err() == nil {
				for range 1 << 16 {
					x = x*6364136223846793005 + 1442695040888963407
				}
			}
			burnSink(x)
		})
	}
	wg.Wait()
}

// burnSink keeps the spin loop's result alive, so the compiler keeps the
// loop.
//
//go:noinline
func burnSink(uint64) {}
