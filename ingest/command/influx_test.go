package command

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/ponte-city/ponte/internal/influxtest"
	"github.com/ponte-city/ponte/internal/testenv"
	"github.com/ponte-city/ponte/wire"
)

// TestInfluxAudit: the audit entries of a command reach a real InfluxDB
// as measurement ponte_commands with their tags and fields, through the
// Service's asynchronous writer.
func TestInfluxAudit(t *testing.T) {
	srv := influxtest.Start(t)
	w := NewInfluxAudit(srv.URL, "", "", srv.Bucket, 5*time.Second)
	defer w.Close()
	f := newFixture(t, func(c *Config) { c.AuditPoints = w })
	f.run(t)

	c := f.issue(t, "line_level", 40)
	f.report(t, "gw1", "gw1", c.ID, wire.StatusApplied, value(40))
	q := `SELECT "id", "value", "readback", "reason", "detail", "event", "operator", "gateway", "device", "point" FROM ponte_commands`
	var rows []map[string]any
	testenv.Eventually(t, 20*time.Second, "3 audit points in InfluxDB", func() bool {
		rows = nil
		for _, s := range srv.Query(t, q) {
			rows = append(rows, s.Rows()...)
		}
		return len(rows) >= 3
	})
	byEvent := map[string]map[string]any{}
	for _, r := range rows {
		byEvent[r["event"].(string)] = r
	}
	num := func(v any) float64 { f, _ := v.(json.Number).Float64(); return f }
	is, ap := byEvent["issued"], byEvent["applied"]
	if is == nil || ap == nil || byEvent["published"] == nil {
		t.Fatalf("events %v", rows)
	}
	if is["id"] != c.ID || num(is["value"]) != 40 || is["reason"] != "lavori stradali" || is["operator"] != opA ||
		is["gateway"] != "gw1" || is["device"] != "dali1" || is["point"] != "line_level" {
		t.Errorf("issued: %v", is)
	}
	if ap["id"] != c.ID || num(ap["readback"]) != 40 {
		t.Errorf("applied: %v", ap)
	}
}

// TestInfluxAuditDownNeverBlocks: with InfluxDB unreachable the commands
// go on, the file keeps every entry, and the failures are counted.
func TestInfluxAuditDownNeverBlocks(t *testing.T) {
	w := NewInfluxAudit("http://127.0.0.1:9", "", "", "ponte/autogen", time.Second)
	defer w.Close()
	f := newFixture(t, func(c *Config) {
		c.AuditPoints = w
		c.AuditRetryBase, c.AuditRetryMax = time.Millisecond, time.Millisecond
	})
	f.run(t)
	c := f.issue(t, "line_level", 40)
	f.report(t, "gw1", "gw1", c.ID, wire.StatusApplied, value(40))
	if got := f.events(t, c.ID); len(got) != 3 {
		t.Fatalf("file events %v", got)
	}
	testenv.Eventually(t, 20*time.Second, "InfluxDB write failures counted", func() bool {
		return f.counter(t, "ponte_ingest_command_audit_failures_total", map[string]string{"store": "influx"}) > 0
	})
}
