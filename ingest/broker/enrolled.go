package broker

import (
	"errors"
	"fmt"
	"strings"

	"github.com/mochi-mqtt/server/v2/packets"
	"golang.org/x/crypto/bcrypt"

	"github.com/ponte-city/ponte/wire"
)

// Enrolled gateways: besides the gateways of its Config, the broker
// admits the gateways of ingest's enrolment registry (package
// ingest/enrol), which come and go while it runs. SetGateway admits one
// (or replaces its password: a re-enrolment rotates credentials, so the
// sessions opened with the old one are closed); RemoveGateway revokes one:
// its connections are closed at once and its sessions discarded, and its
// next CONNECT is refused as bad credentials.

// errRevoked ends the connections of a revoked or re-enrolled gateway.
var errRevoked = errors.New("the gateway's credentials were revoked or replaced")

// gateway reports whether id is a gateway: configured or enrolled.
func (h *authHook) gateway(id string) bool {
	if h.cfg.gateway(id) {
		return true
	}
	_, ok := h.enrolledHash(id)
	return ok
}

// enrolledHash returns an enrolled gateway's bcrypt hash.
func (h *authHook) enrolledHash(id string) ([]byte, bool) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	hash, ok := h.enrolled[id]
	return hash, ok
}

// CheckGateway says why id cannot be enrolled on this broker (nil: it
// can): not a gateway ID, ingest's own user, a configured gateway, or an
// ID that is another gateway's client ID.
func (b *Broker) CheckGateway(id string) error {
	h := b.hook
	switch {
	case !wire.ValidGatewayID(id):
		return fmt.Errorf("%q is not a gateway ID (letters, digits, '-', '_', '.', 1 to 64)", id)
	case id == h.cfg.IngestUser:
		return fmt.Errorf("%q is ingest's own broker user", id)
	case h.cfg.gateway(id):
		return fmt.Errorf("gateway %q has credentials in ingest's configuration file (gateways:); remove them there to manage it by enrolment", id)
	}
	if short, ok := strings.CutPrefix(id, EdgeClientIDPrefix); ok && h.gateway(short) {
		return fmt.Errorf("%q is gateway %q's client ID (%s<id>); choose another ID", id, short, EdgeClientIDPrefix)
	}
	return nil
}

// SetGateway admits an enrolled gateway with a bcrypt hash of its
// password. If it was admitted already with another hash, its open
// connections and sessions are ended: they were opened with the old
// password.
func (b *Broker) SetGateway(id string, hash []byte) error {
	if err := b.CheckGateway(id); err != nil {
		return fmt.Errorf("broker: enrol: %w", err)
	}
	if _, err := bcrypt.Cost(hash); err != nil {
		return fmt.Errorf("broker: enrol gateway %q: password hash: %w", id, err)
	}
	h := b.hook
	h.mu.Lock()
	old, had := h.enrolled[id]
	h.enrolled[id] = append([]byte(nil), hash...)
	h.mu.Unlock()
	if had && string(old) != string(hash) {
		n := b.endSessions(id)
		h.cfg.Logger.Info("enrolled gateway's credentials replaced; its sessions ended", "gateway", id, "sessions", n)
	}
	return nil
}

// RemoveGateway revokes an enrolled gateway: it is no longer admitted, and
// its connections and sessions end now. It returns how many sessions
// ended.
func (b *Broker) RemoveGateway(id string) int {
	h := b.hook
	h.mu.Lock()
	delete(h.enrolled, id)
	h.mu.Unlock()
	n := b.endSessions(id)
	h.cfg.Logger.Warn("enrolled gateway revoked; its sessions ended", "gateway", id, "sessions", n)
	return n
}

// endSessions disconnects every client authenticated as user and drops
// its session, so nothing queued for it is kept or resumed.
func (b *Broker) endSessions(user string) int {
	n := 0
	for _, cl := range b.srv.Clients.GetAll() {
		if string(cl.Properties.Username) != user {
			continue
		}
		if !cl.Closed() {
			_ = b.srv.DisconnectClient(cl, packets.ErrNotAuthorized)
			cl.Stop(errRevoked)
		}
		b.srv.UnsubscribeClient(cl)
		b.srv.Clients.Delete(cl.ID)
		n++
	}
	return n
}
