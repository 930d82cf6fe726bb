package testenv

import (
	"testing"
	"time"
)

// Eventually polls cond until it returns true and fails tb (Fatalf) when it
// has not within the given time, naming what did not happen and how long
// the test waited. It polls at once, then with a backoff from 1 ms up to
// 50 ms, so a condition that holds soon costs almost nothing and a slow
// one does not spin. within is a bound for a machine under load, not a
// latency target: be generous.
func Eventually(tb testing.TB, within time.Duration, what string, cond func() bool) {
	tb.Helper()
	start := time.Now()
	deadline := start.Add(within)
	pause := time.Millisecond
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("%s did not happen within %v (waited %v)", what, within, time.Since(start).Round(time.Millisecond))
		}
		time.Sleep(pause)
		pause = min(2*pause, 50*time.Millisecond)
	}
}
