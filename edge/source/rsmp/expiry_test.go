package rsmp

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ponte-city/ponte/edge/source"
	"github.com/ponte-city/ponte/internal/testenv"
)

// TestPlanRequestNotSentAfterExpiry: a plan request waiting behind a poll
// (the site slow to answer its StatusRequest) whose expiry passes
// meanwhile is not sent once the poll is answered: WritePoint returns
// source.ErrExpired, and the site receives no CommandRequest.
func TestPlanRequestNotSentAfterExpiry(t *testing.T) {
	p := newPeer(t)
	dev := p.device(t, "S1")
	dev.Interval = time.Hour
	src, _, _ := runSource(t, Config{Devices: []source.Device{dev}})
	p.accept()
	p.handshake("S1")
	req := p.expect(TypeStatusRequest)
	p.ack(req) // the poll now waits for its StatusResponse
	w := src.devices[0].prof.Command("plan_request").Write
	exp := time.Now().Add(100 * time.Millisecond)
	errc := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, err := src.WritePoint(ctx, source.WriteRequest{Device: "tlc-1", Point: "plan_request", Value: 5, Rules: &w, Expires: exp})
		errc <- err
	}()
	testenv.Eventually(t, 5*time.Second, "the command's expiry to pass", func() bool { return time.Now().After(exp) })
	p.statusResponse(req, map[string][2]any{"S0014/status": {"2", "recent"}, "S0014/source": {"calendar_clock", "recent"}, "S0007/status": {"True", "recent"}})
	if err := <-errc; !errors.Is(err, source.ErrExpired) {
		t.Fatalf("WritePoint = %v, want source.ErrExpired", err)
	}
	// Whatever it sent before returning is in the socket already.
	p.conn.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	for {
		data, err := p.fr.Next()
		if err != nil {
			break
		}
		if m, _ := Decode(data); m != nil && m.Type == TypeCommandRequest {
			t.Fatalf("a CommandRequest reached the site after the command's expiry: %s", data)
		}
	}
}
