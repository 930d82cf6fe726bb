package natscallout

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/crypto/bcrypt"

	"github.com/ponte-city/ponte/ingest/broker"
	"github.com/ponte-city/ponte/internal/throttle"
	"github.com/ponte-city/ponte/wire"
)

// Subject is where nats-server publishes authorization requests.
const Subject = "$SYS.REQ.USER.AUTH"

// QueueGroup is the queue group every ingest instance answers in, so that
// each request is answered once.
const QueueGroup = "ponte-callout"

// DefaultAccount is the account gateways are placed in (accounts.conf's).
const DefaultAccount = "PONTE"

// Defaults of Config.
const (
	DefaultQueue   = 256
	DefaultTimeout = 2 * time.Second
)

// Reasons of a decision, the reason label of
// ponte_ingest_nats_callout_decisions_total.
const (
	ReasonOK         = "ok"          // allowed
	ReasonNotMQTT    = "not_mqtt"    // a NATS or websocket client: gateways use MQTT
	ReasonUnknown    = "unknown"     // no such gateway, or revoked
	ReasonPassword   = "password"    // wrong password
	ReasonClientID   = "client_id"   // MQTT client ID not the gateway's
	ReasonBusy       = "busy"        // the queue was full
	ReasonThrottled  = "throttled"   // failure budget of the address or user spent; password not checked
	ReasonBadRequest = "bad_request" // not a valid request signed by a server
	ReasonExpired    = "expired"     // waited past the server's deadline; not answered
)

// Lookup returns the bcrypt hash of gateway user's password, and false
// when user is not a gateway that may log in (unknown or revoked). It is
// called concurrently.
type Lookup func(user string) (hash []byte, ok bool)

// Config configures a Service.
type Config struct {
	// Issuer signs the answers: an account key pair whose public key is
	// the auth_callout's issuer (LoadIssuer).
	Issuer nkeys.KeyPair
	// Account is the account gateways are placed in (default
	// DefaultAccount).
	Account string
	// Topics is the topic layout the gateways' permissions derive from.
	Topics wire.Topics
	// Lookup gives the gateways' password hashes.
	Lookup Lookup
	// Workers check requests concurrently (default GOMAXPROCS); Queue
	// requests wait for them (default DefaultQueue).
	Workers, Queue int
	// Timeout bounds how long a request waits for a worker, beyond the
	// server's own deadline (default DefaultTimeout).
	Timeout time.Duration
	// AddressFailures and UserFailures are the budgets of failed logins
	// per client address (the request's ClientInformation.Host; an IPv6
	// /64 counts as one) and per username, as the embedded broker's
	// (default broker.DefaultLimits'). Once one is spent, a request from
	// that address or for that user is refused (ReasonThrottled) before
	// Lookup and bcrypt, until the bucket refills.
	AddressFailures, UserFailures broker.Budget
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Logger (default slog.Default()) and Registerer (default none).
	Logger     *slog.Logger
	Registerer prometheus.Registerer
}

// Service answers nats-server's authorization requests. Its methods are
// safe for concurrent use.
type Service struct {
	cfg     Config
	issuer  string
	log     *slog.Logger
	queue   chan request
	decided *prometheus.CounterVec
	byAddr  *throttle.Guard
	byUser  *throttle.Guard
	// cacheKey keys the remembered checks (HMAC-SHA256), random per
	// process: a leaked table of them is no fast oracle for passwords.
	cacheKey []byte

	mu       sync.Mutex
	verified map[string][sha256.Size]byte // gateway -> HMAC of hash and password last accepted
}

// request is a request waiting for a worker.
type request struct {
	msg      *nats.Msg
	received time.Time
}

// maxVerified bounds the remembered successful checks.
const maxVerified = 1 << 17

// New checks cfg and returns a Service; Serve runs it.
func New(cfg Config) (*Service, error) {
	if cfg.Issuer == nil {
		return nil, errors.New("natscallout: issuer: required (an account key pair)")
	}
	pub, err := cfg.Issuer.PublicKey()
	if err != nil || !nkeys.IsValidPublicAccountKey(pub) {
		return nil, fmt.Errorf("natscallout: issuer: not an account key pair (public key %q): %v", pub, err)
	}
	if _, err := cfg.Issuer.Seed(); err != nil {
		return nil, fmt.Errorf("natscallout: issuer: the key pair cannot sign (no seed): %w", err)
	}
	if cfg.Lookup == nil {
		return nil, errors.New("natscallout: lookup: required")
	}
	if cfg.Account == "" {
		cfg.Account = DefaultAccount
	}
	if cfg.Workers <= 0 {
		cfg.Workers = runtime.GOMAXPROCS(0)
	}
	if cfg.Queue <= 0 {
		cfg.Queue = DefaultQueue
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	def := broker.DefaultLimits()
	if cfg.AddressFailures == (broker.Budget{}) {
		cfg.AddressFailures = def.AddressFailures
	}
	if cfg.UserFailures == (broker.Budget{}) {
		cfg.UserFailures = def.UserFailures
	}
	log := cfg.Logger.With("component", "nats_callout")
	// The guards count nothing themselves (no Registerer): respond counts
	// each refusal once, in the decisions metric.
	guard := func(what string, b broker.Budget) (*throttle.Guard, error) {
		g, err := throttle.New(throttle.Config{Listener: "nats_callout", Burst: b.Burst, Refill: b.Every, Logger: log, Now: cfg.Now})
		if err != nil {
			return nil, fmt.Errorf("natscallout: %s: %w", what, err)
		}
		return g, nil
	}
	byAddr, err := guard("address_failures", cfg.AddressFailures)
	if err != nil {
		return nil, err
	}
	byUser, err := guard("user_failures", cfg.UserFailures)
	if err != nil {
		return nil, err
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("natscallout: cache key: %w", err)
	}
	s := &Service{cfg: cfg, issuer: pub, log: log, byAddr: byAddr, byUser: byUser, cacheKey: key,
		queue: make(chan request, cfg.Queue), verified: map[string][sha256.Size]byte{},
		decided: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ponte_ingest_nats_callout_decisions_total",
			Help: "NATS authorization requests answered by ingest's auth callout, by decision (allowed, refused, dropped) and reason.",
		}, []string{"decision", "reason"})}
	if cfg.Registerer != nil {
		if err := cfg.Registerer.Register(s.decided); err != nil {
			return nil, fmt.Errorf("natscallout: metrics: %w", err)
		}
	}
	return s, nil
}

// Issuer returns the issuer's public account key (the auth_callout's
// issuer).
func (s *Service) Issuer() string { return s.issuer }

// Serve answers the requests nc receives on Subject, in QueueGroup, until
// ctx is done; then it unsubscribes and returns once the workers stopped.
// nc reconnects by itself (nats.go); the subscription follows it.
func (s *Service) Serve(ctx context.Context, nc *nats.Conn) error {
	sub, err := nc.QueueSubscribe(Subject, QueueGroup, s.enqueue)
	if err != nil {
		return fmt.Errorf("natscallout: subscribe %s: %w", Subject, err)
	}
	var wg sync.WaitGroup
	for range s.cfg.Workers {
		wg.Go(func() { s.work(ctx) })
	}
	<-ctx.Done()
	err = sub.Unsubscribe()
	wg.Wait()
	if err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
		return fmt.Errorf("natscallout: unsubscribe: %w", err)
	}
	return nil
}

// enqueue hands a request to the workers, or refuses it when they are
// all busy and the queue is full (nats.go calls it in order, one at a
// time: it must not wait).
func (s *Service) enqueue(m *nats.Msg) {
	select {
	case s.queue <- request{msg: m, received: s.cfg.Now()}:
	default:
		req, err := decodeRequest(m.Data)
		if err != nil {
			s.count("dropped", ReasonBadRequest)
			return
		}
		s.respond(m, req, decision{reason: ReasonBusy})
	}
}

func (s *Service) work(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case r := <-s.queue:
			s.handle(r)
		}
	}
}

// handle decides one request and answers it.
func (s *Service) handle(r request) {
	req, err := decodeRequest(r.msg.Data)
	if err != nil {
		s.count("dropped", ReasonBadRequest)
		s.log.Warn("NATS authorization request not understood; not answered", "err", err)
		return
	}
	now := s.cfg.Now()
	if now.Sub(r.received) > s.cfg.Timeout || (req.Expires != 0 && now.Unix() > req.Expires) {
		// The server gave up waiting (it refused the client): an answer
		// would be ignored, and the check would only cost a worker.
		s.count("dropped", ReasonExpired)
		s.log.Warn("NATS authorization request waited too long; not answered (the server refused the client)",
			"user", clip(req.ConnectOptions.Username), "remote", req.ClientInformation.Host, "waited", now.Sub(r.received))
		return
	}
	s.respond(r.msg, req, s.decide(req))
}

// decision is what decide concluded: allowed when reason is ReasonOK.
type decision struct {
	reason  string
	gateway string
}

// decide checks a request's credentials. As the embedded broker does, a
// spent failure budget of the client's address or of the username
// refuses before anything is looked up, so a brute force costs no bcrypt;
// every other refusal spends one failure of both budgets.
func (s *Service) decide(req *jwt.AuthorizationRequestClaims) decision {
	ci, co := req.ClientInformation, req.ConnectOptions
	user := co.Username
	byAddr, ok, _ := s.byAddr.Begin(throttle.Key(ci.Host), ci.Host)
	if !ok {
		return decision{reason: ReasonThrottled}
	}
	byUser, ok, _ := s.byUser.Begin("user "+user, ci.Host)
	if !ok {
		return decision{reason: ReasonThrottled}
	}
	reason := s.check(ci, user, co.Password)
	if reason != ReasonOK {
		byAddr.Failed("") // counted once, by respond
		byUser.Failed("")
		return decision{reason: reason}
	}
	return decision{reason: ReasonOK, gateway: user}
}

// check checks a client's credentials and says why they are refused
// (ReasonOK: accepted).
func (s *Service) check(ci jwt.ClientInformation, user, pass string) string {
	switch {
	case ci.Type != "mqtt" || ci.Kind != "Client":
		return ReasonNotMQTT
	case !wire.ValidGatewayID(user):
		return ReasonUnknown
	case ci.MQTT != user && ci.MQTT != broker.EdgeClientIDPrefix+user:
		return ReasonClientID
	}
	hash, ok := s.cfg.Lookup(user)
	if !ok {
		return ReasonUnknown
	}
	if !s.passwordOK(user, hash, pass) {
		return ReasonPassword
	}
	return ReasonOK
}

// passwordOK checks pass against hash, through the remembered checks.
func (s *Service) passwordOK(user string, hash []byte, pass string) bool {
	h := hmac.New(sha256.New, s.cacheKey)
	h.Write(hash)
	h.Write([]byte{0})
	h.Write([]byte(pass))
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	s.mu.Lock()
	known, ok := s.verified[user]
	s.mu.Unlock()
	if ok && subtle.ConstantTimeCompare(known[:], sum[:]) == 1 {
		return true
	}
	if bcrypt.CompareHashAndPassword(hash, []byte(pass)) != nil {
		return false
	}
	s.mu.Lock()
	if len(s.verified) >= maxVerified {
		clear(s.verified)
	}
	s.verified[user] = sum
	s.mu.Unlock()
	return true
}

// respond signs and sends the answer to d, and counts and logs it.
func (s *Service) respond(m *nats.Msg, req *jwt.AuthorizationRequestClaims, d decision) {
	res := jwt.NewAuthorizationResponseClaims(req.UserNkey)
	res.Audience = req.Server.ID
	res.IssuedAt = s.cfg.Now().Unix()
	if d.reason == ReasonOK {
		uc := UserClaims(req.UserNkey, d.gateway, s.cfg.Account, s.cfg.Topics)
		token, err := uc.Encode(s.cfg.Issuer)
		if err != nil {
			s.log.Error("NATS user claims not signed; gateway refused", "gateway", d.gateway, "err", err)
			d.reason = ReasonBadRequest
		} else {
			res.Jwt = token
		}
	}
	decisionLabel := "allowed"
	if d.reason != ReasonOK {
		decisionLabel = "refused"
		res.Error = "ponte: not authorized (" + d.reason + ")"
	}
	token, err := res.Encode(s.cfg.Issuer)
	if err != nil {
		s.count("dropped", ReasonBadRequest)
		s.log.Error("NATS authorization response not signed", "err", err)
		return
	}
	// Counted before it is sent, so the decision is on the metric by
	// the time the client learns it.
	s.count(decisionLabel, d.reason)
	if err := m.Respond([]byte(token)); err != nil {
		s.log.Warn("NATS authorization response not sent", "err", err)
	}
	ci := req.ClientInformation
	args := []any{"user", clip(req.ConnectOptions.Username), "mqtt_client_id", clip(ci.MQTT),
		"remote", ci.Host, "type", ci.Type, "server", req.Server.Name}
	switch d.reason {
	case ReasonOK:
		s.log.Debug("gateway logged in to NATS", args...)
		return
	case ReasonThrottled:
		// The guard logged the address or user becoming throttled, once.
		s.log.Debug("NATS client refused", append([]any{"reason", d.reason}, args...)...)
		return
	}
	s.log.Warn("NATS client refused", append([]any{"reason", d.reason}, args...)...)
}

func (s *Service) count(decision, reason string) { s.decided.WithLabelValues(decision, reason).Inc() }

// clip shortens an outside string for the log.
func clip(v string) string {
	const n = 80
	if len(v) > n {
		v = v[:n] + "…"
	}
	return strings.ToValidUTF8(v, "?")
}

// decodeRequest decodes and checks an authorization request: a JWT signed
// by a server key, for a user key.
func decodeRequest(data []byte) (*jwt.AuthorizationRequestClaims, error) {
	req, err := jwt.DecodeAuthorizationRequestClaims(string(data))
	if err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	vr := jwt.CreateValidationResults()
	req.Validate(vr)
	if errs := vr.Errors(); len(errs) > 0 {
		return nil, fmt.Errorf("invalid: %w", errs[0])
	}
	if !nkeys.IsValidPublicServerKey(req.Issuer) || !nkeys.IsValidPublicServerKey(req.Server.ID) {
		return nil, fmt.Errorf("issuer %q or server %q is not a server key", clip(req.Issuer), clip(req.Server.ID))
	}
	return req, nil
}
