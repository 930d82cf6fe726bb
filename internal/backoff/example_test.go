package backoff_test

import (
	"fmt"
	"time"

	"github.com/ponte-city/ponte/internal/backoff"
)

func ExamplePolicy_Wait() {
	p := backoff.Policy{Base: time.Second, Max: time.Minute}
	for n := range 8 {
		fmt.Println(n, p.Wait(n))
	}
	// Full jitter with a fixed random value, as a test would set it.
	p.Jitter, p.Rand = backoff.Full, func() float64 { return 0.5 }
	fmt.Println(p.Wait(3))
	// Output:
	// 0 1s
	// 1 2s
	// 2 4s
	// 3 8s
	// 4 16s
	// 5 32s
	// 6 1m0s
	// 7 1m0s
	// 4s
}
