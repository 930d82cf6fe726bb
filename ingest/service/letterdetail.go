package service

import (
	"fmt"
	"time"

	"github.com/ponte-city/ponte/ingest/deadletter"
)

// screenCause says which rule the n readings dead-lettered for reason
// broke, with the limits in force, so that the letter names the allowed
// window or the device list and the operator need not look them up.
func (s *Service) screenCause(reason, gateway string, n int, w *deadletter.Window) error {
	switch reason {
	case ReasonTime:
		return fmt.Errorf("%d readings with an acquisition time outside the accepted window %s to %s (max_age %s before and max_future %s after ingest's clock %s); the gateway's clock may be wrong",
			n, w.From.Format(time.RFC3339), w.To.Format(time.RFC3339), s.cfg.MaxAge, s.cfg.MaxFuture, w.From.Add(s.cfg.MaxAge).Format(time.RFC3339))
	case ReasonUnknownDevice:
		return fmt.Errorf("%d readings of devices not in gateway %q's device list (%d devices listed; unknown_devices: %s): add the device to the gateway's devices in ingest's configuration, then replay",
			n, gateway, len(s.known.Load().devices[gateway]), s.cfg.UnknownDevices)
	}
	return fmt.Errorf("%d readings", n)
}
