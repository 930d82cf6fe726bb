package system_test

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/ponte-city/ponte/edge/agent"
	"github.com/ponte-city/ponte/edge/ctl"
	"github.com/ponte-city/ponte/ingest/deadletter"
	"github.com/ponte-city/ponte/ingest/ingesttest"
	"github.com/ponte-city/ponte/internal/testenv"
	"github.com/ponte-city/ponte/wire"
)

// TestRefusedReadingsVisible runs ingest with its embedded broker and a
// real edge agent with two meters, one of which ingest's inventory does
// not list: ingest dead-letters that meter's readings (unknown_device) and
// acknowledges them, and the agent's /status shows it refused, with the
// count and the reason, while the listed meter stays ok. A gateway of
// batch version 2 (no FlagAckRefused), refused a reading for its time,
// still gets the plain acknowledgement it decodes.
func TestRefusedReadingsVisible(t *testing.T) {
	testenv.Integration(t, "ingest with its embedded broker and an edge agent in-process")
	dir := t.TempDir()
	const rfGW, oldGW = "rf-e2e-01", "old-e2e-01"
	devs := []e2eDevice{
		{"rf-listed-meter", "eastron-sdm630-v2", "ADDR", 1, "", "1s", 11.25580, 43.77310, "urn:ngsi-ld:StreetlightControlCabinet:rf-listed"},
		{"rf-unlisted-meter", "eastron-sdm630-v2", "ADDR", 2, "", "1s", 11.24800, 43.77640, "urn:ngsi-ld:StreetlightControlCabinet:rf-unlisted"},
	}
	modbusAddr := startModbusDevices(t, devs)
	bufDir := filepath.Join(dir, "buffer")
	// Ingest's inventory of the gateway lists only the first meter.
	testenv.WriteFile(t, filepath.Join(dir, "rf-inventory.yaml"), siteYAML(rfGW, "tcp://127.0.0.1:1883", e2ePassword(rfGW), bufDir, modbusAddr, devs[:1]))
	ing, cfg := startIngestYAML(t, dir, "", []string{rfGW, oldGW},
		"sites: [rf-inventory.yaml]\nprofiles: "+absPath(t, "../../firmware-profiles")+"\n")

	sitePath := filepath.Join(dir, "rf.yaml")
	testenv.WriteFile(t, sitePath, siteYAML(rfGW, ing.BrokerURL, e2ePassword(rfGW), bufDir, modbusAddr, devs))
	a := startAgent(t, sitePath)

	device := func(st agent.Status, name string) agent.DeviceStatus {
		for _, d := range st.Devices {
			if d.Name == name {
				return d
			}
		}
		t.Fatalf("no device %s in /status", name)
		return agent.DeviceStatus{}
	}
	testenv.Eventually(t, 30*time.Second, "the unlisted meter refused in /status", func() bool {
		st := a.Status()
		d := device(st, "rf-unlisted-meter")
		return d.State == agent.StateRefused && d.Refused != nil && d.Refused.Readings > 0 && st.Uplink.AckedSeq > 0
	})
	st := a.Status()
	un, listed := device(st, "rf-unlisted-meter"), device(st, "rf-listed-meter")
	if un.Refused.Reason != "unknown_device" || un.Refused.Point == "" || un.Refused.Value == "" || un.Refused.Time.IsZero() ||
		!strings.Contains(un.LastReason, "unknown_device") {
		t.Errorf("unlisted meter: %+v (refused %+v), want reason unknown_device with point, value and time", un, *un.Refused)
	}
	if listed.State != agent.StateOK || listed.Refused != nil {
		t.Errorf("listed meter: state %s, refused %+v; want ok and nothing refused", listed.State, listed.Refused)
	}
	// /status over HTTP says the same (the field names people read).
	var raw struct {
		Devices []struct {
			Name, State string
			Refused     *struct {
				Readings uint64 `json:"readings"`
				Reason   string `json:"reason"`
			} `json:"refused"`
		} `json:"devices"`
	}
	getJSON(t, "http://"+a.Addr()+"/status", &raw)
	for _, d := range raw.Devices {
		if d.Name == "rf-unlisted-meter" && (d.State != "refused" || d.Refused == nil || d.Refused.Readings == 0 || d.Refused.Reason != "unknown_device") {
			t.Errorf("GET /status: %+v", d)
		}
	}
	// ponte-ctl tail shows the listed meter's live readings, and only its.
	var tailOut, tailErr bytes.Buffer
	tctx, tcancel := context.WithTimeout(context.Background(), 30*time.Second)
	code := ctl.Run(tctx, ctl.Env{Stdout: &tailOut, Stderr: &tailErr}, []string{"tail", "--url", "http://" + a.Addr(), "--device", "rf-listed-meter", "-n", "3"})
	tcancel()
	if lines := strings.Split(strings.TrimSpace(tailOut.String()), "\n"); code != ctl.ExitOK || len(lines) != 4 ||
		strings.Contains(tailOut.String(), "rf-unlisted-meter") || !strings.Contains(lines[1], "rf-listed-meter") {
		t.Errorf("ponte-ctl tail: exit %d, output:\n%s%s", code, tailOut.String(), tailErr.String())
	}
	// And ponte-ctl status, as the technician at the cabinet reads it.
	var out, errOut bytes.Buffer
	code = ctl.Run(context.Background(), ctl.Env{Stdout: &out, Stderr: &errOut}, []string{"status", "--url", "http://" + a.Addr()})
	if code != ctl.ExitFail || !regexp.MustCompile(`rf-unlisted-meter\s+refused\s.*ingest refused .*: unknown_device`).MatchString(out.String()) {
		t.Errorf("ponte-ctl status: exit %d, output:\n%s%s", code, out.String(), errOut.String())
	}
	// The refused readings are acknowledged (dead-lettered at ingest):
	// the buffer frees them like the rest.
	testenv.Eventually(t, 20*time.Second, "the buffer acknowledged past the refused readings", func() bool {
		s := a.Status()
		return s.Buffer.AckedSeq >= st.Buffer.LastSeq
	})
	letters, err := deadletter.List(cfg.DeadLetter.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(letters) == 0 || letters[0].Reason != "unknown_device" || letters[0].Gateway != rfGW || len(letters[0].Entries) == 0 ||
		letters[0].Entries[0].Device != "rf-unlisted-meter" {
		t.Fatalf("dead letters %+v, want unknown_device letters of rf-unlisted-meter", letters)
	}

	// A gateway of batch version 2 gets plain acknowledgements.
	old, err := ingesttest.Connect(ing.BrokerURL, oldGW, oldGW, e2ePassword(oldGW))
	if err != nil {
		t.Fatal(err)
	}
	defer old.Disconnect(50)
	var mu sync.Mutex
	var acks [][]byte
	topics := cfg.Topics()
	if tok := old.Subscribe(topics.Ack(oldGW), 1, func(_ mqtt.Client, m mqtt.Message) {
		mu.Lock()
		acks = append(acks, m.Payload())
		mu.Unlock()
	}); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe to the acks: %v", tok.Error())
	}
	now := time.Now()
	batch, err := wire.Encode(nil, &wire.Batch{Gateway: oldGW, Epoch: 5, Seqs: []uint64{1, 2}, Readings: []wire.Reading{
		{Device: "old-meter", Point: "power", Value: wire.Float(1), Time: now},
		{Device: "old-meter", Point: "power", Value: wire.Float(2), Time: now.Add(time.Hour)}, // beyond max_future
	}})
	if err != nil || batch[3] != 2 {
		t.Fatalf("a batch without flags encodes as version %d (%v), want 2", batch[3], err)
	}
	if tok := old.Publish(topics.Up(oldGW), 1, false, batch); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("publish: %v", tok.Error())
	}
	var ack []byte
	testenv.Eventually(t, 20*time.Second, "the version-2 gateway acknowledged", func() bool {
		mu.Lock()
		defer mu.Unlock()
		if len(acks) > 0 {
			ack = acks[len(acks)-1]
		}
		return ack != nil
	})
	got, err := wire.DecodeAck(ack)
	if err != nil || got.Seq != 2 || got.Refused != nil {
		t.Fatalf("ack %s: %+v, %v; want seq 2 and nothing but gateway, epoch and seq", ack, got, err)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(ack, &fields); err != nil || len(fields) != 3 {
		t.Errorf("ack %s has fields %v, want exactly gateway, epoch and seq", ack, fields)
	}
}
