package agent

import (
	"context"
	"fmt"

	"github.com/ponte-city/ponte/edge/source"
)

var _ source.TextWriter = routedWriter{}

// WriteText implements source.TextWriter: a text command (a message
// sign's message) goes to the running source that polls the device, when
// that source writes text.
func (w routedWriter) WriteText(ctx context.Context, req source.WriteRequest) (string, bool, error) {
	if set := w.writers.Load(); set != nil {
		if wr := (*set)[w.device]; wr != nil {
			if tw, ok := wr.(source.TextWriter); ok {
				return tw.WriteText(ctx, req)
			}
			return "", false, fmt.Errorf("device %s: its source cannot write text", w.device)
		}
	}
	return "", false, fmt.Errorf("device %s: no running source writes it: %w", w.device, source.ErrUnknownDevice)
}
