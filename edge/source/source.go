package source

import (
	"context"
	"sync"
	"time"

	"github.com/ponte-city/ponte/internal/profile"
	"github.com/ponte-city/ponte/wire"
)

// Device is one installed device instance, as the site config describes it.
type Device struct {
	// Name is unique per gateway and becomes wire.Reading.Device.
	Name string
	// Profile is the loaded profile of the device's model.
	Profile *profile.Profile
	// Address says where the device is, by transport:
	//   tcp://host:port                          Modbus TCP
	//   rtu:///dev/ttyUSB0?baud=9600&parity=E     Modbus RTU (data_bits, stop_bits too)
	//   serial:///dev/ttyUSB1?baud=9600           serial line device
	//   mqtt://host:1883 (or mqtts://, ws://)     MQTT broker the device publishes to
	//   rsmp://host:port?site=SITE_ID             RSMP site (socket server)
	Address string
	// Unit is the Modbus unit (slave) ID.
	Unit uint8
	// ID is the device's identity inside MQTT payloads (e.g. the LoRaWAN
	// DevEUI), matched against the profile's device_id path.
	ID string
	// Interval is the fast poll interval.
	Interval time.Duration
	// SlowInterval is the slow poll interval (default 10 x Interval).
	SlowInterval time.Duration
	// Timeout bounds one request (default 1s).
	Timeout time.Duration
	// SecurityCode is the code an RSMP site asks with every command (SXL
	// TLC "Security codes"), a secret of the site config: sources send
	// it and never log it.
	SecurityCode string
}

// Emitter receives the readings of one poll or one message and returns
// the Commit saying when they are durable. It must not block for long
// (the edge buffer's append, which only copies into memory, is the
// intended receiver) and must not keep the slice after returning. A
// source acknowledges its device only after the Commit reported the
// readings durable (see Commit); a source with nothing to acknowledge
// drops the Commit.
type Emitter func(readings []wire.Reading) Commit

// Serialize returns an Emitter that calls emit from one goroutine at a
// time, for sources that poll devices concurrently but promise their
// caller serial calls.
func Serialize(emit Emitter) Emitter {
	var mu sync.Mutex
	return func(rs []wire.Reading) Commit {
		mu.Lock()
		defer mu.Unlock()
		return emit(rs)
	}
}

// Source reads a set of devices of one transport.
type Source interface {
	// Run reads the devices until ctx is cancelled, handing every reading
	// to emit, and acknowledges to a device (where its protocol has
	// acknowledgements) only readings whose Commit reported them durable.
	// It returns nil after ctx is cancelled, or an error if the source
	// could not be set up at all; it never calls emit after returning.
	Run(ctx context.Context, emit Emitter) error
}
