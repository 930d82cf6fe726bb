package command

import (
	"context"
	"fmt"
	"net/http"
	"time"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
	"github.com/influxdata/influxdb-client-go/v2/api"
	"github.com/influxdata/influxdb-client-go/v2/api/write"
)

// AuditMeasurement is the InfluxDB measurement of the audit entries.
const AuditMeasurement = "ponte_commands"

// InfluxAudit writes audit entries to InfluxDB through the v2 write API
// (blocking: the Service retries): measurement AuditMeasurement, tags
// gateway, device, point, event and operator (the operator's ID), fields
// id (the command's), seq, value, readback, reason and detail, at the
// entry's time.
type InfluxAudit struct {
	client influxdb2.Client
	api    api.WriteAPIBlocking
}

// NewInfluxAudit returns a writer to url's org and bucket; timeout bounds
// each write.
func NewInfluxAudit(url, token, org, bucket string, timeout time.Duration) *InfluxAudit {
	opts := influxdb2.DefaultOptions().SetPrecision(time.Nanosecond).SetMaxRetries(0).SetLogLevel(0).
		SetHTTPClient(&http.Client{Timeout: timeout})
	c := influxdb2.NewClientWithOptions(url, token, opts)
	return &InfluxAudit{client: c, api: c.WriteAPIBlocking(org, bucket)}
}

// Write implements AuditPoints.
func (w *InfluxAudit) Write(ctx context.Context, entries []Entry) error {
	pts := make([]*write.Point, 0, len(entries))
	for i := range entries {
		pts = append(pts, auditPoint(&entries[i]))
	}
	if err := w.api.WritePoint(ctx, pts...); err != nil {
		return fmt.Errorf("write %d audit entries to InfluxDB: %w", len(pts), err)
	}
	return nil
}

// Close releases the client.
func (w *InfluxAudit) Close() { w.client.Close() }

// auditPoint is an entry as an InfluxDB point. The seq field keeps two
// entries of one instant apart (same tags and time would overwrite).
func auditPoint(e *Entry) *write.Point {
	tags := map[string]string{"gateway": e.Gateway, "device": e.Device, "point": e.Point, "event": e.Event}
	if e.Operator != nil {
		tags["operator"] = e.Operator.ID
	}
	for k, v := range tags {
		if v == "" {
			delete(tags, k)
		}
	}
	fields := map[string]any{"id": e.Command, "seq": int64(e.Seq)}
	if e.Value != nil {
		fields["value"] = *e.Value
	}
	if e.Readback != nil {
		fields["readback"] = *e.Readback
	}
	if e.Text != nil {
		fields["text"] = *e.Text
	}
	if e.ReadbackText != nil {
		fields["readback_text"] = *e.ReadbackText
	}
	if e.Reason != "" {
		fields["reason"] = e.Reason
	}
	if e.Detail != "" {
		fields["detail"] = e.Detail
	}
	// Nanoseconds from seq keep entries of one instant apart.
	return write.NewPoint(AuditMeasurement, tags, fields, e.At.Truncate(time.Millisecond).Add(time.Duration(e.Seq%1000000)))
}
