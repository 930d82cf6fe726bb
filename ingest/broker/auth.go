package broker

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/crypto/bcrypt"

	"github.com/ponte-city/ponte/internal/throttle"
)

// EdgeClientIDPrefix is the prefix of ponte-edge's default client ID
// ("ponte-edge-" + gateway ID); a gateway may connect with its bare ID too.
const EdgeClientIDPrefix = "ponte-edge-"

// Reasons a CONNECT is refused, the reason label of
// ponte_ingest_auth_failures_total.
const (
	ReasonBadCredentials = "bad_credentials" // unknown user or wrong password
	ReasonThrottled      = "throttled"       // failure budget of the address or user spent; password not checked
	ReasonClientID       = "client_id"       // client ID not bound to this user
	ReasonSessionOwner   = "session_owner"   // the session belongs to another user
	ReasonWill           = "will"            // last will on a topic the user may not publish to
	ReasonSessionsFull   = "sessions_full"   // a new persistent session beyond MaxOfflineSessions
)

// refusal is the error with which the hook refuses a CONNECT (after it
// sent the CONNACK and logged it).
type refusal struct {
	reason string
	code   packets.Code
}

func (r *refusal) Error() string { return "connect refused: " + r.reason }

// authHook authenticates clients, binds client IDs to users, and enforces
// the per-gateway ACL on publishes, subscriptions and wills.
type authHook struct {
	mqtt.HookBase
	cfg      Config
	srv      *mqtt.Server
	byAddr   *throttle.Guard
	byUser   *throttle.Guard
	failures *prometheus.CounterVec

	mu       sync.RWMutex
	enrolled map[string][]byte // enrolled gateways' bcrypt hashes (enrolled.go)
}

func newAuthHook(cfg Config, srv *mqtt.Server, failures *prometheus.CounterVec) (*authHook, error) {
	h := &authHook{cfg: cfg, srv: srv, failures: failures, enrolled: map[string][]byte{}}
	// The guards count nothing themselves (no Registerer): refuse counts
	// each refusal once, with the listener it came in on.
	guard := func(b Budget) (*throttle.Guard, error) {
		return throttle.New(throttle.Config{Listener: ListenerPlain, Burst: b.Burst, Refill: b.Every,
			MaxKeys: cfg.Limits.MaxClients + 1024, Logger: cfg.Logger})
	}
	var err error
	if h.byAddr, err = guard(cfg.Limits.AddressFailures); err != nil {
		return nil, err
	}
	if h.byUser, err = guard(cfg.Limits.UserFailures); err != nil {
		return nil, err
	}
	return h, nil
}

// ID implements mqtt.Hook.
func (h *authHook) ID() string { return "ponte-auth" }

// Provides implements mqtt.Hook.
func (h *authHook) Provides(b byte) bool {
	switch b {
	case mqtt.OnConnect, mqtt.OnConnectAuthenticate, mqtt.OnACLCheck, mqtt.OnSessionEstablished, mqtt.OnDisconnect:
		return true
	}
	return false
}

func equal(a, b []byte) bool { return subtle.ConstantTimeCompare(a, b) == 1 }

// OnConnect implements mqtt.Hook: every check of a CONNECT is here rather
// than in OnConnectAuthenticate so that each refusal gets its own CONNACK
// code and log line. The order matters: a spent budget is refused before
// the password is checked, so a brute force costs no bcrypt.
func (h *authHook) OnConnect(cl *mqtt.Client, pk packets.Packet) error {
	user := string(pk.Connect.Username)
	// A spent budget refuses before the password is looked at, so a brute
	// force costs no bcrypt; a refused identity spends one failure of the
	// address's and of the user's budget.
	byAddr, ok, _ := h.byAddr.Begin(throttle.Key(cl.Net.Remote), cl.Net.Remote)
	if !ok {
		return h.refuse(cl, ReasonThrottled, packets.ErrServerUnavailable, "")
	}
	byUser, ok, _ := h.byUser.Begin("user "+user, cl.Net.Remote)
	if !ok {
		return h.refuse(cl, ReasonThrottled, packets.ErrServerUnavailable, "")
	}
	fail := func(reason, detail string) error {
		byAddr.Failed("") // counted once, by refuse, with its listener
		byUser.Failed("")
		return h.refuse(cl, reason, notAuthorized(cl), detail)
	}
	if id, serial, ok := peerCertificate(cl); ok && h.cfg.CertOK != nil {
		// A verified client certificate names its gateway; a username, if
		// given, must be the same.
		switch {
		case user != "" && user != id:
			return fail(ReasonBadCredentials, "username "+user+" with the certificate of "+id)
		case !h.cfg.CertOK(id, serial):
			return fail(ReasonBadCredentials, "certificate "+serial+" of "+id+" is not its current one (revoked or replaced)")
		}
		user = id
		cl.Properties.Username = []byte(id)
	} else if !h.password(user, pk.Connect.Password) {
		return fail(ReasonBadCredentials, "")
	}
	if h.owner(pk.Connect.ClientIdentifier) != h.ownerName(user) {
		return fail(ReasonClientID, "a gateway connects with its ID or "+EdgeClientIDPrefix+"<ID>; other client IDs are ingest's")
	}
	existing, resumes := h.srv.Clients.Get(cl.ID)
	if resumes && string(existing.Properties.Username) != user {
		return fail(ReasonSessionOwner, "held by "+string(existing.Properties.Username))
	}
	if cl.Properties.Will.Flag == 1 && !h.allowed(user, cl.Properties.Will.TopicName, true) {
		return fail(ReasonWill, "topic "+cl.Properties.Will.TopicName)
	}
	persistent := !pk.Connect.Clean
	if cl.Properties.ProtocolVersion == 5 {
		persistent = pk.Properties.SessionExpiryInterval > 0
	}
	if persistent && !resumes {
		if n := h.offline(); n >= h.cfg.Limits.MaxOfflineSessions {
			return h.refuse(cl, ReasonSessionsFull, packets.ErrServerUnavailable, fmt.Sprintf("%d offline sessions", n))
		}
	}
	return nil
}

// notAuthorized is the CONNACK code for a refused identity: MQTT 3.1.1
// has only "not authorised" (mochi maps bad-username-or-password to it).
func notAuthorized(cl *mqtt.Client) packets.Code {
	if cl.Properties.ProtocolVersion == 5 {
		return packets.ErrNotAuthorized
	}
	return packets.ErrBadUsernameOrPassword
}

// refuse answers CONNACK code, counts and logs the refusal.
func (h *authHook) refuse(cl *mqtt.Client, reason string, code packets.Code, detail string) error {
	h.failures.WithLabelValues(cl.Net.Listener, reason).Inc()
	args := []any{"reason", reason, "username", string(cl.Properties.Username), "client", cl.ID,
		"remote", cl.Net.Remote, "listener", cl.Net.Listener}
	if detail != "" {
		args = append(args, "detail", detail)
	}
	h.cfg.Logger.Warn("MQTT client refused", args...)
	if err := h.srv.SendConnack(cl, code, false, nil); err != nil {
		h.cfg.Logger.Debug("MQTT refusal not sent", "client", cl.ID, "err", err)
	}
	return &refusal{reason: reason, code: code}
}

// OnConnectAuthenticate implements mqtt.Hook. OnConnect has checked
// everything by then; mochi refuses everyone unless a hook says yes here.
func (h *authHook) OnConnectAuthenticate(*mqtt.Client, packets.Packet) bool { return true }

// password reports whether pass is user's password.
func (h *authHook) password(user string, pass []byte) bool {
	switch {
	case user == "":
		return false
	case user == h.cfg.IngestUser:
		return equal(pass, []byte(h.cfg.IngestPassword))
	}
	if pw, known := h.cfg.Gateways[user]; known {
		return equal(pass, []byte(pw))
	}
	if hash, known := h.cfg.GatewayHashes[user]; known {
		return bcrypt.CompareHashAndPassword(hash, pass) == nil
	}
	if hash, known := h.enrolledHash(user); known {
		return bcrypt.CompareHashAndPassword(hash, pass) == nil
	}
	return false
}

// owner returns the gateway a client ID is bound to: its own ID, or
// EdgeClientIDPrefix followed by it. Other client IDs ("") are ingest's.
func (h *authHook) owner(clientID string) string {
	if h.gateway(clientID) {
		return clientID
	}
	if id, ok := strings.CutPrefix(clientID, EdgeClientIDPrefix); ok && h.gateway(id) {
		return id
	}
	return ""
}

// ownerName is the owner (see owner) of the client IDs user may use: its
// own name for a gateway, "" for ingest.
func (h *authHook) ownerName(user string) string {
	if user == h.cfg.IngestUser {
		return ""
	}
	return user
}

// offline counts the sessions kept without a connection.
func (h *authHook) offline() int {
	n := 0
	for _, c := range h.srv.Clients.GetAll() {
		if c.Closed() && !c.IsTakenOver() {
			n++
		}
	}
	return n
}

// allowed is the ACL: ingest anywhere; a gateway publishes to its own up,
// status and report topics and subscribes to its own ack and cmd topics
// (so it reads no other gateway's commands and reports no other's).
func (h *authHook) allowed(user, topic string, write bool) bool {
	if user == h.cfg.IngestUser && user != "" {
		return true
	}
	if !h.gateway(user) {
		return false
	}
	t := h.cfg.Topics
	if write {
		return topic == t.Up(user) || topic == t.Status(user) || topic == t.Report(user)
	}
	return topic == t.Ack(user) || topic == t.Cmd(user)
}

// OnACLCheck implements mqtt.Hook.
func (h *authHook) OnACLCheck(cl *mqtt.Client, topic string, write bool) bool {
	user := string(cl.Properties.Username)
	ok := h.allowed(user, topic, write)
	if !ok {
		h.cfg.Logger.Warn("MQTT access refused", "gateway", user, "topic", topic, "write", write, "remote", cl.Net.Remote)
	}
	return ok
}

// OnSessionEstablished implements mqtt.Hook: from now on OnDisconnect logs
// how the connection ends.
func (h *authHook) OnSessionEstablished(cl *mqtt.Client, _ packets.Packet) {
	if c, ok := cl.Net.Conn.(*conn); ok {
		c.session.Store(true)
	}
	h.cfg.Logger.Info("MQTT client connected", "client", cl.ID, "username", string(cl.Properties.Username),
		"remote", cl.Net.Remote, "listener", cl.Net.Listener, "clean", cl.Properties.Clean)
}

// OnDisconnect implements mqtt.Hook: an orderly end at Info, anything else
// at Warn, both with the reason.
func (h *authHook) OnDisconnect(cl *mqtt.Client, err error, expire bool) {
	level := slog.LevelWarn
	reason := "disconnected"
	if err != nil {
		reason = err.Error()
	}
	if err == nil || errors.Is(err, packets.CodeDisconnect) || errors.Is(err, io.EOF) {
		level = slog.LevelInfo
	}
	if cause := cl.StopCause(); cause != nil && !errors.Is(cause, err) {
		reason += " (" + cause.Error() + ")"
	}
	h.cfg.Logger.Log(context.Background(), level, "MQTT client disconnected", "client", cl.ID, "username", string(cl.Properties.Username),
		"remote", cl.Net.Remote, "listener", cl.Net.Listener, "reason", reason, "session_kept", !expire)
}
