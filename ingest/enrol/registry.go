package enrol

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/ponte-city/ponte/internal/site"
	"github.com/ponte-city/ponte/wire"
)

// Defaults and bounds.
const (
	DefaultTokenTTL         = 24 * time.Hour
	MaxTokenTTL             = 30 * 24 * time.Hour
	DefaultMaxPendingTokens = 1000
	DefaultMaxGateways      = 10000
	// keepSpentTokens is how long used and expired tokens stay listed.
	keepSpentTokens = 30 * 24 * time.Hour
	// bcryptCost is the cost of the embedded broker's password hashes: a
	// gateway's password is 256 random bits, so the cost guards only
	// against a stolen registry file, and every CONNECT pays it.
	bcryptCost = 10
)

// Config configures a Registry.
type Config struct {
	// Dir holds the registry (created, mode 0700), unless NATS is set.
	Dir string
	// NATS, if set, keeps the registry in a replicated JetStream
	// key-value bucket shared by every ingest instance (kvstore.go)
	// instead of Dir.
	NATS *KVConfig
	// ProfilesDir is the firmware profile folder site configs are checked
	// against.
	ProfilesDir string
	// Check, if set, says why a gateway ID cannot be enrolled (the
	// broker's rules; a gateway of ingest's configuration file).
	Check func(id string) error
	// CheckTenant, if set, says why gateways of one ID, or one ID prefix
	// (prefix true), cannot be put in tenant: no such tenant, or ingest's
	// configuration gives them to another (a token naming a tenant is
	// checked when issued, and its gateway again when it enrols).
	CheckTenant func(tenant, idOrPrefix string, prefix bool) error
	// CA, if set, signs the client certificates of gateways that send a
	// CSR.
	CA *CA
	// Mosquitto, if set, is kept in step with the enrolled gateways.
	Mosquitto *Mosquitto
	// MaxPendingTokens caps tokens issued and not yet used or expired
	// (default DefaultMaxPendingTokens); MaxGateways caps enrolled
	// gateways (default DefaultMaxGateways).
	MaxPendingTokens, MaxGateways int
	// MaxPendingTokensPerTenant and MaxGatewaysPerTenant are one tenant's
	// shares of them (limits.go).
	MaxPendingTokensPerTenant, MaxGatewaysPerTenant int
	// OnChange, if set, is called with every enrolment and revocation,
	// after it is on disk (in the bucket), in order per gateway; with
	// NATS also with those made on other instances. It must not call the
	// Registry.
	OnChange func(Change)
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Logger (default slog.Default()).
	Logger *slog.Logger
}

// Change is an enrolment or a revocation.
type Change struct {
	Gateway string
	// Site is the gateway's site config (also when revoked: its devices
	// stay in the inventory).
	Site *site.Site
	// PasswordHash is the bcrypt hash of its password; nil when revoked.
	PasswordHash []byte
	// Revoked says its credentials were revoked.
	Revoked bool
	// Since is when its credentials took this state, as the registry
	// recorded it: its revocation, else its last enrolment (the same on
	// every instance, and across restarts).
	Since time.Time
	// Rotated says it had credentials before this enrolment.
	Rotated bool
	// Tenant is the tenant its enrolment token put it in ("" for none).
	Tenant string
}

// Scope is what a token may enrol: one gateway ID, or IDs with a prefix.
type Scope struct {
	Gateway string `json:"gateway,omitempty"`
	Prefix  string `json:"prefix,omitempty"`
	// Tenant, if set, is the tenant the gateway it enrols belongs to (one
	// municipality sharing the platform: see ingest's tenants).
	Tenant string `json:"tenant,omitempty"`
}

func (s Scope) String() string {
	in := ""
	if s.Tenant != "" {
		in = " of tenant " + s.Tenant
	}
	if s.Gateway != "" {
		return "gateway " + s.Gateway + in
	}
	return "gateways " + s.Prefix + "*" + in
}

func (s Scope) validate() error {
	switch {
	case (s.Gateway == "") == (s.Prefix == ""):
		return errors.New("give a gateway ID or an ID prefix, one of them")
	case s.Gateway != "" && !wire.ValidGatewayID(s.Gateway):
		return fmt.Errorf("gateway %q is not a gateway ID (letters, digits, '-', '_', '.', 1 to 64)", s.Gateway)
	case s.Prefix != "" && !wire.ValidGatewayID(s.Prefix):
		return fmt.Errorf("prefix %q is not the start of a gateway ID (letters, digits, '-', '_', '.')", s.Prefix)
	}
	return nil
}

func (s Scope) allows(id string) bool {
	if s.Gateway != "" {
		return id == s.Gateway
	}
	return strings.HasPrefix(id, s.Prefix)
}

// Token is a token as listed (without its secret).
type Token struct {
	ID        string    `json:"id"`
	Scope     Scope     `json:"scope"`
	Created   time.Time `json:"created"`
	CreatedBy string    `json:"created_by,omitempty"`
	// ByTenant is the tenant whose operator issued it ("" for the
	// platform's): such a token cannot move an enrolled gateway from
	// another tenant, or from none, into its own.
	ByTenant string     `json:"by_tenant,omitempty"`
	Expires  time.Time  `json:"expires"`
	Used     *time.Time `json:"used,omitempty"`
	UsedBy   string     `json:"used_by,omitempty"`
	// Revoked is when an operator revoked it unused (revoke.go); its
	// Expires is then no later.
	Revoked   *time.Time `json:"revoked,omitempty"`
	RevokedBy string     `json:"revoked_by,omitempty"`
	Hash      string     `json:"hash,omitempty"` // SHA-256 of the secret; not listed
	// Answer is the enrolment's answer sealed with a key only the token's
	// secret gives, and AttemptHash the SHA-256 of the request's Attempt:
	// a retry of the same attempt gets the same answer (replay.go). Not
	// listed; dropped after replayWindow.
	Answer      string `json:"answer,omitempty"`
	AttemptHash string `json:"attempt_hash,omitempty"`
	// Pending is the gateway's record an enrolment with this token is
	// writing (kvstore.go); nil once written. Not listed.
	Pending *Gateway `json:"pending,omitempty"`
}

// Gateway is an enrolled gateway as listed (without credentials).
type Gateway struct {
	ID         string     `json:"id"`
	Enrolled   time.Time  `json:"enrolled"`
	Updated    time.Time  `json:"updated"`
	Enrolments int        `json:"enrolments"`
	Token      string     `json:"token"`
	Remote     string     `json:"remote,omitempty"`
	Devices    int        `json:"devices"`
	CertSerial string     `json:"cert_serial,omitempty"`
	Revoked    *time.Time `json:"revoked,omitempty"`
	RevokedBy  string     `json:"revoked_by,omitempty"`
	// Tenant is the tenant its last token put it in ("" for none).
	Tenant string `json:"tenant,omitempty"`
	// Hashes of the current password: bcrypt for the embedded broker,
	// Mosquitto's PBKDF2 for its password file. Not listed.
	Bcrypt    string `json:"bcrypt,omitempty"`
	Mosquitto string `json:"mosquitto,omitempty"`
	// SiteHash names its site config's key in a bucket (kvstore.go).
	// Not listed.
	SiteHash string `json:"site_hash,omitempty"`
	// Claim is the bucket revision of the token claim of the enrolment
	// that wrote this record (kvstore.go): enrolments are ordered by it,
	// not by the instances' clocks. 0 in files. Not listed.
	Claim uint64 `json:"claim,omitempty"`
}

// state is registry.json.
type state struct {
	Version  int                 `json:"version"`
	Tokens   map[string]*Token   `json:"tokens"`
	Gateways map[string]*Gateway `json:"gateways"`
}

const stateVersion = 1

// Error is a refusal with the HTTP status it maps to.
type Error struct {
	Status int
	Msg    string
}

func (e *Error) Error() string { return e.Msg }

func refuse(status int, format string, args ...any) error {
	return &Error{Status: status, Msg: fmt.Sprintf(format, args...)}
}

// Registry is the enrolment registry. Its methods are safe for concurrent
// use. Its view (mu) is what the store handed back, from this instance's
// writes and, with a bucket, from every instance's (store.go); wmu
// serialises this instance's writes.
type Registry struct {
	cfg   Config
	log   *slog.Logger
	store store

	wmu sync.Mutex

	mu    sync.Mutex
	st    state
	sites map[string]*site.Site
	revs  map[string]uint64

	stop func()
	done chan struct{}
}

// Open reads the registry in cfg.Dir (an empty one if there is none), or
// in the bucket of cfg.NATS (see OpenContext).
func Open(cfg Config) (*Registry, error) { return OpenContext(context.Background(), cfg) }

// OpenContext opens the registry; with cfg.NATS it waits for the cluster
// until ctx is done, reads the bucket and follows it until Close. Every
// enrolled gateway's site config is checked again with the current
// profiles; a problem is an error naming the file (or key).
func OpenContext(ctx context.Context, cfg Config) (*Registry, error) {
	if cfg.Dir == "" && cfg.NATS == nil {
		return nil, errors.New("enrol: dir: required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.MaxPendingTokens == 0 {
		cfg.MaxPendingTokens = DefaultMaxPendingTokens
	}
	if cfg.MaxGateways == 0 {
		cfg.MaxGateways = DefaultMaxGateways
	}
	cfg.tenantLimits()
	r := &Registry{cfg: cfg, log: cfg.Logger.With("component", "enrol"), sites: map[string]*site.Site{}, revs: map[string]uint64{},
		st: state{Version: stateVersion, Tokens: map[string]*Token{}, Gateways: map[string]*Gateway{}}, done: make(chan struct{})}
	var err error
	if cfg.NATS != nil {
		kc := *cfg.NATS
		r.store, err = openKVStore(ctx, kc, r.log)
	} else {
		r.store, err = openFileStore(cfg.Dir, cfg.Now)
	}
	if err != nil {
		return nil, err
	}
	recs, err := r.store.load(ctx)
	if err != nil {
		r.store.close()
		return nil, err
	}
	var errs []error
	r.mu.Lock()
	for _, rc := range recs {
		errs = append(errs, r.apply(rc, false))
	}
	r.mu.Unlock()
	if err := errors.Join(errs...); err != nil {
		r.store.close()
		return nil, fmt.Errorf("enrol: %w", err)
	}
	if m := cfg.Mosquitto; m != nil {
		if err := m.write(r.st.Gateways); err != nil {
			r.store.close()
			return nil, fmt.Errorf("enrol: %w", err)
		}
	}
	fctx, stop := context.WithCancel(context.Background())
	r.stop = stop
	go func() {
		defer close(r.done)
		r.store.follow(fctx, r.applyFollowed)
	}()
	return r, nil
}

// Close stops following the bucket and closes the connection to NATS (a
// no-op for files).
func (r *Registry) Close() {
	r.stop()
	<-r.done
	r.store.close()
}

func (r *Registry) siteOptions() site.Options {
	return site.Options{Offline: true, ProfilesDir: r.cfg.ProfilesDir}
}

// apply takes one record into the view if it is newer than what the view
// holds and, with notify, tells Mosquitto and OnChange of a gateway's
// change; the caller holds mu. A site config that does not check is an
// error naming it, and the record is not taken.
func (r *Registry) apply(rc rec, notify bool) error {
	k := rc.key()
	if rc.rev != 0 && rc.rev <= r.revs[k] {
		return nil // seen already (this instance's write, then watched)
	}
	if rc.rev != 0 {
		r.revs[k] = rc.rev
	}
	if rc.kind == recToken {
		if rc.deleted {
			delete(r.st.Tokens, rc.id)
		} else {
			r.st.Tokens[rc.id] = rc.token
		}
		return nil
	}
	id := rc.id
	if s := rc.parsed; s != nil {
		s.File = rc.siteName
		r.sites[id] = s
	} else if rc.site != nil {
		s, err := site.Parse(rc.siteName, rc.site, r.siteOptions())
		if err != nil {
			return err
		}
		if s.Gateway.ID != id {
			return fmt.Errorf("%s: gateway.id %q (expected %q, the gateway it was enrolled as)", rc.siteName, s.Gateway.ID, id)
		}
		r.sites[id] = s
	}
	if r.sites[id] == nil {
		return fmt.Errorf("gateway %s: no site config", id)
	}
	r.st.Gateways[id] = rc.gw
	if notify {
		r.afterChange(id, rc.gw.Enrolments > 1 && rc.gw.Revoked == nil)
	}
	return nil
}

// applyAll applies this instance's writes.
func (r *Registry) applyAll(recs []rec) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rc := range recs {
		if err := r.apply(rc, true); err != nil {
			r.log.Error("enrolment registry record not applied", "gateway", rc.id, "err", err)
		}
	}
}

// applyFollowed applies another instance's write.
func (r *Registry) applyFollowed(rc rec) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.apply(rc, true); err != nil {
		r.log.Error("enrolment registry record from the bucket not applied; the gateway keeps its previous state here", "gateway", rc.id, "revision", rc.rev, "err", err)
	}
}

// WithChanges calls fn with the registry's state as changes (Changes)
// while no OnChange runs, so that what fn sets up from them is followed
// by every change after them, none lost in between.
func (r *Registry) WithChanges(fn func([]Change)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	fn(r.changes())
}

// opTimeout bounds one operation on the store (the bucket's requests
// have their own, shorter bounds).
const opTimeout = time.Minute

// conflictRetries bounds how often an operation starts again from a fresh
// read when another instance changed a record it read.
const conflictRetries = 4

// IssueToken makes a token for scope, valid for ttl (0: DefaultTokenTTL),
// and returns it (the only time its secret is shown) with its listing.
// With a bucket, MaxPendingTokens is checked against this instance's view:
// instances issuing at the same moment may each pass it by one.
func (r *Registry) IssueToken(scope Scope, ttl time.Duration, by string) (string, Token, error) {
	return r.IssueTokenFor(scope, ttl, by, "")
}

// IssueTokenFor is IssueToken for an operator of one tenant, byTenant:
// the token enrols a new gateway, or one already that tenant's, never one
// of another tenant or of none ("" is the platform's operators, who may).
func (r *Registry) IssueTokenFor(scope Scope, ttl time.Duration, by, byTenant string) (string, Token, error) {
	if err := scope.validate(); err != nil {
		return "", Token{}, refuse(http.StatusBadRequest, "enrolment token: %v", err)
	}
	if scope.Tenant != "" {
		if r.cfg.CheckTenant == nil {
			return "", Token{}, refuse(http.StatusBadRequest, "enrolment token: tenant %q: no tenants are configured", scope.Tenant)
		}
		idOrPrefix := scope.Gateway + scope.Prefix
		if err := r.cfg.CheckTenant(scope.Tenant, idOrPrefix, scope.Prefix != ""); err != nil {
			return "", Token{}, refuse(http.StatusConflict, "enrolment token for %s: %v", scope, err)
		}
	}
	if ttl == 0 {
		ttl = DefaultTokenTTL
	}
	if ttl < time.Minute || ttl > MaxTokenTTL {
		return "", Token{}, refuse(http.StatusBadRequest, "enrolment token: ttl %v (expected 1m to %v)", ttl, MaxTokenTTL)
	}
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	r.wmu.Lock()
	defer r.wmu.Unlock()
	now := r.cfg.Now()
	pending := 0
	var spentToks []rec
	r.mu.Lock()
	for id, t := range r.st.Tokens {
		if t.Used == nil && now.Before(t.Expires) {
			pending++
		}
		if strip, drop := spent(t, now); strip || drop {
			spentToks = append(spentToks, rec{kind: recToken, id: id, token: t, rev: r.revs["t/"+id]})
		}
	}
	r.mu.Unlock()
	if pending >= r.cfg.MaxPendingTokens {
		return "", Token{}, refuse(http.StatusTooManyRequests, "enrolment token: %d tokens are already waiting to be used (the limit, enrolment.max_pending_tokens); revoke some or let them expire first", pending)
	}
	if err := r.tenantTokenCap(scope.Tenant, now); err != nil {
		return "", Token{}, err
	}
	id, tok, hash := newToken()
	t := &Token{ID: id, Scope: scope, Created: now.UTC(), CreatedBy: by, ByTenant: byTenant, Expires: now.Add(ttl).UTC(), Hash: hash}
	recs, err := r.store.createToken(ctx, t)
	if err != nil {
		return "", Token{}, fmt.Errorf("enrol: %w", err)
	}
	r.applyAll(recs)
	r.applyAll(r.store.prune(ctx, spentToks, now))
	r.log.Info("enrolment token issued", "token", id, "scope", scope.String(), "expires", t.Expires, "by", by)
	out := *t
	out.Hash = ""
	return tok, out, nil
}

// Tokens lists the tokens, newest first.
func (r *Registry) Tokens() []Token {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Token, 0, len(r.st.Tokens))
	for _, t := range r.st.Tokens {
		c := *t
		c.Hash, c.Answer, c.AttemptHash, c.Pending = "", "", "", nil
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Created.After(out[j].Created) })
	return out
}

// Gateways lists the enrolled gateways by ID.
func (r *Registry) Gateways() []Gateway {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Gateway, 0, len(r.st.Gateways))
	for _, g := range r.st.Gateways {
		c := *g
		c.Bcrypt, c.Mosquitto, c.SiteHash, c.Claim = "", "", "", 0
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Changes returns the registry's state as changes, one per gateway by
// ID, to set up what OnChange keeps in step (see WithChanges).
func (r *Registry) Changes() []Change {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.changes()
}

// changes is Changes; the caller holds mu.
func (r *Registry) changes() []Change {
	ids := make([]string, 0, len(r.st.Gateways))
	for id := range r.st.Gateways {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	out := make([]Change, 0, len(ids))
	for _, id := range ids {
		out = append(out, r.change(id, false))
	}
	return out
}

// change describes a gateway's current state; the caller holds mu.
func (r *Registry) change(id string, rotated bool) Change {
	g := r.st.Gateways[id]
	c := Change{Gateway: id, Site: r.sites[id], Revoked: g.Revoked != nil, Since: g.Updated, Rotated: rotated, Tenant: g.Tenant}
	if g.Revoked == nil {
		c.PasswordHash = []byte(g.Bcrypt)
	} else {
		c.Since = *g.Revoked
	}
	return c
}

// Enrolment is one enrolment request.
type Enrolment struct {
	// Token is the enrolment token.
	Token string
	// Request is what the gateway sent.
	Request wire.EnrolRequest
	// Remote is the client's address, for the record.
	Remote string
}

// Enrol checks an enrolment and, if it is accepted, records it and
// returns the gateway's new credentials. A refusal is an *Error.
//
// With a bucket the token is claimed by a compare-and-swap: of two
// instances that receive the same token at once one enrols, the other
// reads the token again and refuses it as used, or, for a retry of the
// same attempt, answers the same. MaxGateways is checked against this
// instance's view: instances enrolling new gateways at the same moment
// may each pass it by one.
func (r *Registry) Enrol(e Enrolment) (wire.EnrolResponse, error) {
	tokID, secret, ok := parseToken(e.Token)
	if !ok {
		return wire.EnrolResponse{}, refuse(http.StatusUnauthorized, "not an enrolment token (expected %s.<id>.<secret>, as ponte-ctl enrolment token printed it)", tokenPrefix)
	}
	name := e.Request.File
	if name == "" {
		name = "site config"
	}
	s, err := site.Parse(name, []byte(e.Request.Site), r.siteOptions())
	if err != nil {
		return wire.EnrolResponse{}, refuse(http.StatusUnprocessableEntity, "%v", err)
	}
	if s.Uplink.Password != "" {
		return wire.EnrolResponse{}, refuse(http.StatusUnprocessableEntity, "%s: uplink.password: enrolment makes the gateway's password; give uplink.password_file (where ponte-ctl enroll writes it) instead of a password", name)
	}
	if e.Request.CSR != "" && r.cfg.CA == nil {
		return wire.EnrolResponse{}, refuse(http.StatusUnprocessableEntity, "a client certificate was asked for, but this ingest has no CA (enrolment.ca); enrol without --csr to get a password")
	}
	password := newPassword()
	bh, err := bcrypt.GenerateFromPassword([]byte(password), bcryptCost)
	if err != nil {
		return wire.EnrolResponse{}, fmt.Errorf("enrol: %w", err)
	}
	a := attempt{e: e, name: name, tokID: tokID, secret: secret, site: s, password: password, bcrypt: string(bh), mosquitto: mosquittoHash(password)}

	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	r.wmu.Lock()
	defer r.wmu.Unlock()
	for n := 0; ; n++ {
		resp, err := r.enrolOnce(ctx, &a)
		if errors.Is(err, errConflict) && n < conflictRetries {
			continue // read the token again: used by now, or a retry's answer
		}
		return resp, err
	}
}

// attempt is an enrolment checked as far as it can be without the
// registry.
type attempt struct {
	e                           Enrolment
	name, tokID, secret         string
	site                        *site.Site
	password, bcrypt, mosquitto string
}

// enrolOnce is one try of Enrol from a fresh read of the token; the
// caller holds wmu.
func (r *Registry) enrolOnce(ctx context.Context, a *attempt) (wire.EnrolResponse, error) {
	e, name, tokID, s := a.e, a.name, a.tokID, a.site
	id := s.Gateway.ID
	now := r.cfg.Now()
	t, trev, err := r.store.token(ctx, tokID)
	if err != nil {
		return wire.EnrolResponse{}, fmt.Errorf("enrol: %w", err)
	}
	switch {
	case t == nil || !secretMatches(a.secret, t.Hash):
		return wire.EnrolResponse{}, refuse(http.StatusUnauthorized, "unknown enrolment token %s (ask the operators for a new one)", tokID)
	case t.Used != nil && t.UsedBy == id && e.Request.Attempt != "":
		if resp, ok := replay(t, a.secret, e.Request.Attempt, now); ok {
			recs, err := r.store.complete(ctx, t, trev)
			if errors.As(err, new(*Error)) {
				return wire.EnrolResponse{}, err
			}
			if err != nil {
				return wire.EnrolResponse{}, fmt.Errorf("enrol: complete the enrolment of token %s: %w", tokID, err)
			}
			r.applyAll(recs)
			// The answer holds only if the gateway's record is still this
			// enrolment's: not one overtaken by a later enrolment or a
			// revocation (its password was then never, or no longer,
			// recorded).
			g, grev, err := r.store.gateway(ctx, id)
			if err != nil {
				return wire.EnrolResponse{}, fmt.Errorf("enrol: %w", err)
			}
			if g == nil || g.Token != tokID || g.Revoked != nil {
				if err := superseded(g, grev, tokID, 0); err != nil {
					return wire.EnrolResponse{}, err
				}
				return wire.EnrolResponse{}, refuse(http.StatusConflict, "the enrolment of gateway %s with token %s is no longer its current one; ask the operators for a new token", id, tokID)
			}
			r.log.Info("enrolment answered again (a retry of the same attempt)", "gateway", id, "token", tokID, "remote", e.Remote)
			return resp, nil
		}
		fallthrough
	case t.Used != nil:
		return wire.EnrolResponse{}, refuse(http.StatusUnauthorized, "enrolment token %s was already used at %s by gateway %s; a token enrols once (ask the operators for a new one)",
			tokID, t.Used.Format(time.RFC3339), t.UsedBy)
	case t.Revoked != nil: // before expired: revoking sets Expires
		by := ""
		if t.RevokedBy != "" {
			by = " by " + t.RevokedBy
		}
		return wire.EnrolResponse{}, refuse(http.StatusUnauthorized, "enrolment token %s was revoked at %s%s (ask the operators for a new one)", tokID, t.Revoked.Format(time.RFC3339), by)
	case !now.Before(t.Expires):
		return wire.EnrolResponse{}, refuse(http.StatusUnauthorized, "enrolment token %s expired at %s (ask the operators for a new one)", tokID, t.Expires.Format(time.RFC3339))
	case !t.Scope.allows(id):
		return wire.EnrolResponse{}, refuse(http.StatusForbidden, "enrolment token %s is for %s, not gateway %q (%s: gateway.id)", tokID, t.Scope, id, name)
	}
	if r.cfg.Check != nil {
		if err := r.cfg.Check(id); err != nil {
			return wire.EnrolResponse{}, refuse(http.StatusConflict, "%s: gateway.id: %v", name, err)
		}
	}
	if tn := t.Scope.Tenant; tn != "" && r.cfg.CheckTenant != nil {
		if err := r.cfg.CheckTenant(tn, id, false); err != nil {
			return wire.EnrolResponse{}, refuse(http.StatusConflict, "%s: gateway.id: token %s puts gateway %s in tenant %s, but %v", name, tokID, id, tn, err)
		}
	}
	prev, _, err := r.store.gateway(ctx, id)
	if err != nil {
		return wire.EnrolResponse{}, fmt.Errorf("enrol: %w", err)
	}
	rotated := prev != nil
	if rotated && t.ByTenant != "" && prev.Tenant != t.ByTenant {
		// A tenant's operator may not take a gateway enrolled elsewhere:
		// its credentials, sites and readings would become that tenant's.
		return wire.EnrolResponse{}, refuse(http.StatusConflict, "%s: gateway.id: gateway %s is enrolled and not tenant %s's; token %s cannot enrol it (the platform's operators move a gateway between tenants)", name, id, t.ByTenant, tokID)
	}
	if tn := t.Scope.Tenant; tn != "" && !(rotated && prev.Tenant == tn) {
		// Enrolling again in its tenant takes no new share.
		if err := r.tenantGatewayShare(tn, name); err != nil {
			return wire.EnrolResponse{}, err
		}
	}
	if !rotated {
		r.mu.Lock()
		n := len(r.st.Gateways)
		r.mu.Unlock()
		if n >= r.cfg.MaxGateways {
			return wire.EnrolResponse{}, refuse(http.StatusInsufficientStorage, "the registry holds %d gateways, its limit (enrolment.max_gateways)", n)
		}
	}
	resp := wire.EnrolResponse{Gateway: id, Username: id, Password: a.password, Devices: len(s.Devices), Rotated: rotated}
	g := &Gateway{ID: id, Enrolled: now.UTC(), Updated: now.UTC(), Enrolments: 1, Token: tokID, Remote: e.Remote,
		Devices: len(s.Devices), Bcrypt: a.bcrypt, Mosquitto: a.mosquitto, Tenant: t.Scope.Tenant}
	if rotated && g.Tenant == "" {
		g.Tenant = prev.Tenant // a token naming no tenant keeps the gateway's
	}
	if rotated {
		g.Enrolled, g.Enrolments = prev.Enrolled, prev.Enrolments+1
	}
	if e.Request.CSR != "" {
		cert, serial, err := r.cfg.CA.sign([]byte(e.Request.CSR), id, now)
		if err != nil {
			return wire.EnrolResponse{}, refuse(http.StatusUnprocessableEntity, "csr: %v", err)
		}
		resp.Certificate, resp.CA, g.CertSerial = cert, r.cfg.CA.certPEM, serial
	}
	used := now.UTC()
	claim := *t
	claim.Used, claim.UsedBy = &used, id
	if e.Request.Attempt != "" {
		claim.Answer, claim.AttemptHash = seal(resp, a.secret), hashSecret(e.Request.Attempt)
	}
	recs, err := r.store.enrol(ctx, &enrolWrite{token: &claim, tokRev: trev, gw: g, site: []byte(e.Request.Site), parsed: s})
	if errors.Is(err, errConflict) || errors.As(err, new(*Error)) {
		return wire.EnrolResponse{}, err // to retry, or a refusal (superseded)
	}
	if err != nil {
		return wire.EnrolResponse{}, fmt.Errorf("enrol: %w", err)
	}
	r.applyAll(recs)
	r.log.Info("gateway enrolled", "gateway", id, "devices", len(s.Devices), "token", tokID, "rotated", rotated,
		"certificate", g.CertSerial != "", "remote", e.Remote)
	return resp, nil
}

// Revoke revokes a gateway's credentials.
func (r *Registry) Revoke(id, by string) error {
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	r.wmu.Lock()
	defer r.wmu.Unlock()
	for n := 0; ; n++ {
		g, rev, err := r.store.gateway(ctx, id)
		if err != nil {
			return fmt.Errorf("enrol: %w", err)
		}
		if g == nil {
			return refuse(http.StatusNotFound, "gateway %q is not enrolled", id)
		}
		if g.Revoked != nil {
			return nil
		}
		now := r.cfg.Now().UTC()
		g.Revoked, g.RevokedBy, g.Bcrypt, g.Mosquitto, g.CertSerial = &now, by, "", "", ""
		recs, err := r.store.putGateway(ctx, g, rev)
		if errors.Is(err, errConflict) && n < conflictRetries {
			continue
		}
		if err != nil {
			return fmt.Errorf("enrol: %w", err)
		}
		r.applyAll(recs)
		r.log.Warn("gateway revoked", "gateway", id, "by", by)
		return nil
	}
}

// CertOK says whether serial is gateway id's current certificate.
func (r *Registry) CertOK(id, serial string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	g := r.st.Gateways[id]
	return g != nil && g.Revoked == nil && g.CertSerial != "" && g.CertSerial == serial
}

// afterChange updates Mosquitto's files and tells OnChange; the caller
// holds mu.
func (r *Registry) afterChange(id string, rotated bool) {
	if m := r.cfg.Mosquitto; m != nil {
		if err := m.write(r.st.Gateways); err != nil {
			r.log.Error("Mosquitto's password and ACL files not updated", "gateway", id, "err", err)
		}
	}
	if r.cfg.OnChange != nil {
		r.cfg.OnChange(r.change(id, rotated))
	}
}
