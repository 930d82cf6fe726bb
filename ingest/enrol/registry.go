package enrol

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/ponte-city/ponte/internal/atomicfile"
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
	// Dir holds the registry (created, mode 0700).
	Dir string
	// ProfilesDir is the firmware profile folder site configs are checked
	// against.
	ProfilesDir string
	// Check, if set, says why a gateway ID cannot be enrolled (the
	// broker's rules; a gateway of ingest's configuration file).
	Check func(id string) error
	// CA, if set, signs the client certificates of gateways that send a
	// CSR.
	CA *CA
	// Mosquitto, if set, is kept in step with the enrolled gateways.
	Mosquitto *Mosquitto
	// MaxPendingTokens caps tokens issued and not yet used or expired
	// (default DefaultMaxPendingTokens); MaxGateways caps enrolled
	// gateways (default DefaultMaxGateways).
	MaxPendingTokens, MaxGateways int
	// OnChange, if set, is called with every enrolment and revocation,
	// after it is on disk, in order. It must not call the Registry.
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
	// Rotated says it had credentials before this enrolment.
	Rotated bool
}

// Scope is what a token may enrol: one gateway ID, or IDs with a prefix.
type Scope struct {
	Gateway string `json:"gateway,omitempty"`
	Prefix  string `json:"prefix,omitempty"`
}

func (s Scope) String() string {
	if s.Gateway != "" {
		return "gateway " + s.Gateway
	}
	return "gateways " + s.Prefix + "*"
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
	ID        string     `json:"id"`
	Scope     Scope      `json:"scope"`
	Created   time.Time  `json:"created"`
	CreatedBy string     `json:"created_by,omitempty"`
	Expires   time.Time  `json:"expires"`
	Used      *time.Time `json:"used,omitempty"`
	UsedBy    string     `json:"used_by,omitempty"`
	Hash      string     `json:"hash,omitempty"` // SHA-256 of the secret; not listed
	// Answer is the enrolment's answer sealed with a key only the token's
	// secret gives, and AttemptHash the SHA-256 of the request's Attempt:
	// a retry of the same attempt gets the same answer (replay.go). Not
	// listed; dropped after replayWindow.
	Answer      string `json:"answer,omitempty"`
	AttemptHash string `json:"attempt_hash,omitempty"`
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
	// Hashes of the current password: bcrypt for the embedded broker,
	// Mosquitto's PBKDF2 for its password file. Not listed.
	Bcrypt    string `json:"bcrypt,omitempty"`
	Mosquitto string `json:"mosquitto,omitempty"`
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
// use.
type Registry struct {
	cfg Config
	log *slog.Logger

	mu    sync.Mutex
	st    state
	sites map[string]*site.Site
}

// Open reads the registry in cfg.Dir (an empty one if there is none).
// Every enrolled gateway's site config is checked again with the current
// profiles; a problem is an error naming the file.
func Open(cfg Config) (*Registry, error) {
	if cfg.Dir == "" {
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
	if err := os.MkdirAll(filepath.Join(cfg.Dir, "sites"), 0o700); err != nil {
		return nil, fmt.Errorf("enrol: %w", err)
	}
	// Only ingest reads the registry (an existing folder keeps no wider
	// mode).
	if err := os.Chmod(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("enrol: %w", err)
	}
	r := &Registry{cfg: cfg, log: cfg.Logger.With("component", "enrol"), sites: map[string]*site.Site{},
		st: state{Version: stateVersion, Tokens: map[string]*Token{}, Gateways: map[string]*Gateway{}}}
	path := r.statePath()
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("enrol: %w", err)
	default:
		dec := json.NewDecoder(strings.NewReader(string(data)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&r.st); err != nil {
			return nil, fmt.Errorf("enrol: %s: %w (the registry is written by ingest only; restore it from a backup)", path, err)
		}
		if r.st.Version != stateVersion {
			return nil, fmt.Errorf("enrol: %s: version %d (this ingest reads version %d)", path, r.st.Version, stateVersion)
		}
		if r.st.Tokens == nil {
			r.st.Tokens = map[string]*Token{}
		}
		if r.st.Gateways == nil {
			r.st.Gateways = map[string]*Gateway{}
		}
	}
	var errs []error
	for id := range r.st.Gateways {
		s, err := r.loadSite(id)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		r.sites[id] = s
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("enrol: %w", err)
	}
	if m := cfg.Mosquitto; m != nil {
		if err := m.write(r.st.Gateways); err != nil {
			return nil, fmt.Errorf("enrol: %w", err)
		}
	}
	return r, nil
}

func (r *Registry) statePath() string { return filepath.Join(r.cfg.Dir, "registry.json") }

func (r *Registry) sitePath(id string) string {
	return filepath.Join(r.cfg.Dir, "sites", id+".yaml")
}

func (r *Registry) siteOptions() site.Options {
	return site.Options{Offline: true, ProfilesDir: r.cfg.ProfilesDir}
}

func (r *Registry) loadSite(id string) (*site.Site, error) {
	p := r.sitePath(id)
	s, err := site.Load(p, r.siteOptions())
	if err != nil {
		return nil, err
	}
	if s.Gateway.ID != id {
		return nil, fmt.Errorf("%s: gateway.id %q (expected %q, the gateway it was enrolled as)", p, s.Gateway.ID, id)
	}
	return s, nil
}

// save writes registry.json; the caller holds mu.
func (r *Registry) save() error {
	now := r.cfg.Now()
	for id, t := range r.st.Tokens {
		if t.Used != nil && now.Sub(*t.Used) > replayWindow {
			t.Answer, t.AttemptHash = "", ""
		}
		if (t.Used != nil || now.After(t.Expires)) && now.Sub(t.Expires) > keepSpentTokens && (t.Used == nil || now.Sub(*t.Used) > keepSpentTokens) {
			delete(r.st.Tokens, id)
		}
	}
	data, err := json.MarshalIndent(r.st, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(r.statePath(), append(data, '\n'), 0o600)
}

// IssueToken makes a token for scope, valid for ttl (0: DefaultTokenTTL),
// and returns it (the only time its secret is shown) with its listing.
func (r *Registry) IssueToken(scope Scope, ttl time.Duration, by string) (string, Token, error) {
	if err := scope.validate(); err != nil {
		return "", Token{}, refuse(http.StatusBadRequest, "enrolment token: %v", err)
	}
	if ttl == 0 {
		ttl = DefaultTokenTTL
	}
	if ttl < time.Minute || ttl > MaxTokenTTL {
		return "", Token{}, refuse(http.StatusBadRequest, "enrolment token: ttl %v (expected 1m to %v)", ttl, MaxTokenTTL)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.cfg.Now()
	pending := 0
	for _, t := range r.st.Tokens {
		if t.Used == nil && now.Before(t.Expires) {
			pending++
		}
	}
	if pending >= r.cfg.MaxPendingTokens {
		return "", Token{}, refuse(http.StatusTooManyRequests, "enrolment token: %d tokens are already waiting to be used (the limit); let some expire first", pending)
	}
	id, tok, hash := newToken()
	t := &Token{ID: id, Scope: scope, Created: now.UTC(), CreatedBy: by, Expires: now.Add(ttl).UTC(), Hash: hash}
	r.st.Tokens[id] = t
	if err := r.save(); err != nil {
		delete(r.st.Tokens, id)
		return "", Token{}, fmt.Errorf("enrol: %w", err)
	}
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
		c.Hash, c.Answer, c.AttemptHash = "", "", ""
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
		c.Bcrypt, c.Mosquitto = "", ""
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Changes returns the registry's state as changes, one per gateway by
// ID, to set up what OnChange keeps in step.
func (r *Registry) Changes() []Change {
	r.mu.Lock()
	defer r.mu.Unlock()
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
	c := Change{Gateway: id, Site: r.sites[id], Revoked: g.Revoked != nil, Rotated: rotated}
	if g.Revoked == nil {
		c.PasswordHash = []byte(g.Bcrypt)
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
	id := s.Gateway.ID
	var csr []byte
	if e.Request.CSR != "" {
		if r.cfg.CA == nil {
			return wire.EnrolResponse{}, refuse(http.StatusUnprocessableEntity, "a client certificate was asked for, but this ingest has no CA (enrolment.ca); enrol without --csr to get a password")
		}
		csr = []byte(e.Request.CSR)
	}
	password := newPassword()
	bh, err := bcrypt.GenerateFromPassword([]byte(password), bcryptCost)
	if err != nil {
		return wire.EnrolResponse{}, fmt.Errorf("enrol: %w", err)
	}
	mh := mosquittoHash(password)

	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.cfg.Now()
	t := r.st.Tokens[tokID]
	switch {
	case t == nil || !secretMatches(secret, t.Hash):
		return wire.EnrolResponse{}, refuse(http.StatusUnauthorized, "unknown enrolment token %s (ask the operators for a new one)", tokID)
	case t.Used != nil && t.UsedBy == id && e.Request.Attempt != "":
		if resp, ok := replay(t, secret, e.Request.Attempt, now); ok {
			r.log.Info("enrolment answered again (a retry of the same attempt)", "gateway", id, "token", tokID, "remote", e.Remote)
			return resp, nil
		}
		fallthrough
	case t.Used != nil:
		return wire.EnrolResponse{}, refuse(http.StatusUnauthorized, "enrolment token %s was already used at %s by gateway %s; a token enrols once (ask the operators for a new one)",
			tokID, t.Used.Format(time.RFC3339), t.UsedBy)
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
	prev, rotated := r.st.Gateways[id]
	if !rotated && len(r.st.Gateways) >= r.cfg.MaxGateways {
		return wire.EnrolResponse{}, refuse(http.StatusInsufficientStorage, "the registry holds %d gateways, its limit (enrolment.max_gateways)", len(r.st.Gateways))
	}
	resp := wire.EnrolResponse{Gateway: id, Username: id, Password: password, Devices: len(s.Devices), Rotated: rotated}
	g := &Gateway{ID: id, Enrolled: now.UTC(), Updated: now.UTC(), Enrolments: 1, Token: tokID, Remote: e.Remote,
		Devices: len(s.Devices), Bcrypt: string(bh), Mosquitto: mh}
	if rotated {
		g.Enrolled, g.Enrolments = prev.Enrolled, prev.Enrolments+1
	}
	if csr != nil {
		cert, serial, err := r.cfg.CA.sign(csr, id, now)
		if err != nil {
			return wire.EnrolResponse{}, refuse(http.StatusUnprocessableEntity, "csr: %v", err)
		}
		resp.Certificate, resp.CA, g.CertSerial = cert, r.cfg.CA.certPEM, serial
	}
	// The site config first: a registry.json that names a gateway always
	// has its site config on disk.
	if err := atomicfile.Write(r.sitePath(id), []byte(e.Request.Site), 0o600); err != nil {
		return wire.EnrolResponse{}, fmt.Errorf("enrol: %w", err)
	}
	used := now.UTC()
	oldTok := *t
	t.Used, t.UsedBy = &used, id
	if e.Request.Attempt != "" {
		t.Answer, t.AttemptHash = seal(resp, secret), hashSecret(e.Request.Attempt)
	}
	r.st.Gateways[id] = g
	if err := r.save(); err != nil {
		*t = oldTok
		if rotated {
			r.st.Gateways[id] = prev
		} else {
			delete(r.st.Gateways, id)
		}
		return wire.EnrolResponse{}, fmt.Errorf("enrol: %w", err)
	}
	s.File = r.sitePath(id)
	r.sites[id] = s
	r.log.Info("gateway enrolled", "gateway", id, "devices", len(s.Devices), "token", tokID, "rotated", rotated,
		"certificate", g.CertSerial != "", "remote", e.Remote)
	r.afterChange(id, rotated)
	return resp, nil
}

// Revoke revokes a gateway's credentials.
func (r *Registry) Revoke(id, by string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	g := r.st.Gateways[id]
	if g == nil {
		return refuse(http.StatusNotFound, "gateway %q is not enrolled", id)
	}
	if g.Revoked != nil {
		return nil
	}
	prev := *g
	now := r.cfg.Now().UTC()
	g.Revoked, g.RevokedBy, g.Bcrypt, g.Mosquitto, g.CertSerial = &now, by, "", "", ""
	if err := r.save(); err != nil {
		*g = prev
		return fmt.Errorf("enrol: %w", err)
	}
	r.log.Warn("gateway revoked", "gateway", id, "by", by)
	r.afterChange(id, false)
	return nil
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
