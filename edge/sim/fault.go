package sim

import (
	"fmt"
	"time"
)

// Fault is a misbehaviour a simulated device shows on demand, so tests and
// demos can exercise a gateway's error paths against the real wire format.
type Fault string

// Faults. What each means depends on the transport; see the comments.
const (
	FaultNone      Fault = ""
	FaultException Fault = "exception" // Modbus: answer exception 4 (server device failure); serial: no-op
	FaultTimeout   Fault = "timeout"   // do not answer at all (serial: device stops talking)
	FaultGarbage   Fault = "garbage"   // RTU: random bytes instead of a reply; TCP: bad MBAP; serial: noise bytes between frames
	FaultDrop      Fault = "drop"      // TCP: close the connection on the next request
	FaultSlow      Fault = "slow"      // Modbus: answer correctly, SlowDelay late (a slow controller)
)

// SlowDelay is how late a unit under FaultSlow answers: above the Modbus
// source's 1 s default timeout, within a 3 s one, so a test tells a
// honoured --timeout from a capped one.
const SlowDelay = 1500 * time.Millisecond

// faults lists the faults ParseFault accepts, FaultNone first.
var faults = []Fault{FaultNone, FaultException, FaultTimeout, FaultGarbage, FaultDrop, FaultSlow}

// ParseFault parses a fault name; "" and "none" are FaultNone.
func ParseFault(s string) (Fault, error) {
	if s == "none" {
		return FaultNone, nil
	}
	for _, f := range faults {
		if string(f) == s {
			return f, nil
		}
	}
	return FaultNone, fmt.Errorf("unknown fault %q (expected none, exception, timeout, garbage, drop or slow)", s)
}
