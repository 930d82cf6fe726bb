package subs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/ponte-city/ponte/internal/atomicfile"
	"github.com/ponte-city/ponte/twin"
	"github.com/ponte-city/ponte/twin/ngsild"
)

// Manager holds the NGSI-LD subscriptions, serves their HTTP API
// (Handler) and delivers their notifications (Run). Its methods are safe
// for concurrent use; one mutex guards every subscription's state, and no
// HTTP request to an endpoint is made while it is held.
type Manager struct {
	cfg     Config
	allowed []pattern
	met     *metrics
	client  *http.Client
	file    string // "" without Dir

	mu   sync.Mutex
	subs map[string]*sub
	// queueBytes is the size of every subscription's queue together.
	queueBytes int64
	ctx        context.Context // Run's, nil before Run
	workers    sync.WaitGroup
	changed    chan struct{} // cap 1: the subscriptions changed
	from       uint64        // the twin's last change when New ran: Run follows the changes after it
	following  chan struct{} // closed once Run follows the twin's changes
}

// sub is one subscription and its delivery state.
type sub struct {
	def     Definition
	c       *compiled
	key     string // the owner's twin.Scope.Key
	scope   twin.Scope
	created time.Time
	st      status

	// last holds, per entity, the JSON of the watched attributes' values
	// last notified (only with watchedAttributes).
	last map[string]map[string]string
	// pending are the entities changed inside a throttling period, by ID,
	// latest state winning; next is when the next notification may go.
	pending map[string]ngsild.Entity
	next    time.Time

	queue       []notification
	queueBytes  int64         // the size of queue (notification.size)
	enqueued    int           // notifications queued since the start
	overflowing bool          // the queue dropped since it was last empty
	wake        chan struct{} // cap 1
	done        chan struct{} // closed when deleted
}

// status are a subscription's delivery counts (notification.* in GET).
type status struct {
	timesSent, timesFailed, consecutiveErrors  int
	lastNotification, lastSuccess, lastFailure time.Time
	lastErrorReason                            string
}

// New returns a Manager, loading Dir's subscriptions if any. A file that
// cannot be read or decoded is an error naming it and the problem.
func New(cfg Config) (*Manager, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	allowed, _ := parsePatterns(cfg.AllowedEndpoints) // validated
	met, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	m := &Manager{cfg: cfg, allowed: allowed, met: met, subs: map[string]*sub{}, changed: make(chan struct{}, 1),
		from: cfg.Reader.LastSeq(), following: make(chan struct{})}
	m.client = &http.Client{
		Transport: &http.Transport{DialContext: dialer(allowed), Proxy: nil, MaxIdleConnsPerHost: 2,
			IdleConnTimeout: 90 * time.Second, TLSHandshakeTimeout: cfg.DeliveryTimeout},
		// A redirect could point anywhere, internal addresses included.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	if cfg.Dir != "" {
		m.file = filepath.Join(cfg.Dir, "subscriptions.json")
		if err := m.load(); err != nil {
			return nil, err
		}
	}
	m.met.subscriptions.Set(float64(len(m.subs)))
	return m, nil
}

// allowedURL says whether AllowedEndpoints let notifications go to u.
func (m *Manager) allowedURL(u *url.URL) bool { return allowedURL(m.allowed, u) }

// fileVersion is the version of the subscriptions file's format.
const fileVersion = 1

// stored is the subscriptions file: a version and the subscriptions in
// creation order. Delivery counts are not kept: they restart at zero.
type stored struct {
	Version       int         `json:"version"`
	Subscriptions []storedSub `json:"subscriptions"`
}

type storedSub struct {
	Scope      string          `json:"scope"`
	CreatedAt  time.Time       `json:"createdAt"`
	Definition json.RawMessage `json:"definition"`
}

// load reads m.file; a missing file is no subscription.
func (m *Manager) load() error {
	b, err := os.ReadFile(m.file)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("subs: read %s: %w", m.file, err)
	}
	var st stored
	if err := json.Unmarshal(b, &st); err != nil {
		return fmt.Errorf("subs: %s: %s", m.file, jsonError(err))
	}
	if st.Version != fileVersion {
		return fmt.Errorf("subs: %s: version %d, expected %d", m.file, st.Version, fileVersion)
	}
	// An expired subscription is kept (GET shows it expired), so compile
	// with a clock before any expiry.
	for i, s := range st.Subscriptions {
		// The endpoint is checked at each delivery: AllowedEndpoints may
		// have changed since, and that is no reason to refuse to start.
		def, c, err := decodeDefinition(s.Definition, time.Time{}, func(*url.URL) bool { return true })
		if err != nil {
			var p *ngsild.Problem
			if errors.As(err, &p) {
				return fmt.Errorf("subs: %s: subscription %d: %s", m.file, i, p.Detail)
			}
			return fmt.Errorf("subs: %s: subscription %d: %w", m.file, i, err)
		}
		if def.ID == "" || m.subs[def.ID] != nil {
			return fmt.Errorf("subs: %s: subscription %d: missing or repeated id %q", m.file, i, def.ID)
		}
		scope, ok := twin.Scope{}, false
		if m.cfg.ResolveScope != nil {
			scope, ok = m.cfg.ResolveScope(s.Scope)
		}
		if !ok {
			m.cfg.Logger.Warn("ngsi-ld subscription's scope is unknown: it sees nothing until patched by its owner",
				"subscription", def.ID, "scope", s.Scope)
		}
		m.subs[def.ID] = newSub(*def, c, s.Scope, scope, s.CreatedAt)
	}
	return nil
}

func newSub(def Definition, c *compiled, key string, scope twin.Scope, created time.Time) *sub {
	return &sub{def: def, c: c, key: key, scope: scope, created: created,
		wake: make(chan struct{}, 1), done: make(chan struct{})}
}

// saveLocked writes every subscription to m.file (m.mu held).
func (m *Manager) saveLocked() error {
	if m.file == "" {
		return nil
	}
	st := stored{Version: fileVersion, Subscriptions: []storedSub{}}
	for _, s := range m.sortedLocked() {
		b, err := json.Marshal(s.def)
		if err != nil {
			return err
		}
		st.Subscriptions = append(st.Subscriptions, storedSub{Scope: s.key, CreatedAt: s.created, Definition: b})
	}
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.Write(m.file, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("subs: save %s: %w", m.file, err)
	}
	return nil
}

// sortedLocked returns the subscriptions in creation order, then by ID.
func (m *Manager) sortedLocked() []*sub {
	out := make([]*sub, 0, len(m.subs))
	for _, s := range m.subs {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].created.Equal(out[j].created) {
			return out[i].created.Before(out[j].created)
		}
		return out[i].def.ID < out[j].def.ID
	})
	return out
}

// Errors of the operations, as the handler answers them.
var (
	errNotFound = errors.New("not found")
	errExists   = errors.New("already exists")
	errLimit    = errors.New("limit reached")
)

// newID returns a fresh subscription ID.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return "urn:ngsi-ld:Subscription:" + hex.EncodeToString(b[:])
}

// create adds a subscription owned by scope.
func (m *Manager) create(scope twin.Scope, def *Definition, c *compiled) (string, error) {
	key := scope.Key()
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.subs) >= m.cfg.MaxSubscriptions {
		return "", fmt.Errorf("%w: this server holds %d subscriptions, its maximum (MaxSubscriptions); delete some first", errLimit, len(m.subs))
	}
	n := 0
	for _, s := range m.subs {
		if s.key == key {
			n++
		}
	}
	if n >= m.cfg.MaxPerScope {
		return "", fmt.Errorf("%w: %s holds %d subscriptions, its maximum (MaxPerScope, twin.ngsild.subscriptions.max_per_scope); delete some first", errLimit, scope.Name(), n)
	}
	if def.ID == "" {
		def.ID = newID()
	}
	if m.subs[def.ID] != nil {
		return "", fmt.Errorf("%w: subscription %s", errExists, def.ID)
	}
	s := newSub(*def, c, key, scope, m.cfg.Now().UTC())
	m.subs[def.ID] = s
	if err := m.saveLocked(); err != nil {
		delete(m.subs, def.ID)
		return "", err
	}
	m.met.subscriptions.Set(float64(len(m.subs)))
	m.startLocked(s)
	m.signalChanged()
	m.cfg.Logger.Info("ngsi-ld subscription created", "subscription", def.ID, "scope", key, "endpoint", def.Notification.Endpoint.URI)
	return def.ID, nil
}

// lookupLocked returns the subscription id of scope key; another scope's
// is not found, as one that does not exist.
func (m *Manager) lookupLocked(key, id string) (*sub, error) {
	s := m.subs[id]
	if s == nil || s.key != key {
		return nil, fmt.Errorf("%w: subscription %s", errNotFound, id)
	}
	return s, nil
}

// patch merges fragment into the subscription id of scope (clause 5.8.2):
// each member given replaces the stored one, null removes it, and the
// members of notification are merged one by one.
func (m *Manager) patch(scope twin.Scope, id string, fragment map[string]json.RawMessage) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, err := m.lookupLocked(scope.Key(), id)
	if err != nil {
		return err
	}
	def, c, err := patchDefinition(s.def, fragment, m.cfg.Now(), m.allowedURL)
	if err != nil {
		return err
	}
	old := *s
	s.def, s.c, s.scope = *def, c, scope
	s.last, s.pending = nil, nil // what is watched may have changed
	if err := m.saveLocked(); err != nil {
		s.def, s.c, s.scope, s.last, s.pending = old.def, old.c, old.scope, old.last, old.pending
		return err
	}
	m.signalChanged()
	m.cfg.Logger.Info("ngsi-ld subscription patched", "subscription", id)
	return nil
}

// patchDefinition is def with fragment merged (clause 5.8.2), checked as
// a POST body is; the fragment may repeat def's id but not change it.
func patchDefinition(def Definition, fragment map[string]json.RawMessage, now time.Time, allowed func(*url.URL) bool) (*Definition, *compiled, error) {
	if raw, ok := fragment["id"]; ok {
		var fid string
		if json.Unmarshal(raw, &fid) != nil || fid != def.ID {
			return nil, nil, problem("id", "a PATCH cannot change the id (%s)", def.ID)
		}
	}
	merged, err := mergeJSON(def, fragment)
	if err != nil {
		return nil, nil, err
	}
	return decodeDefinition(merged, now, allowed)
}

// mergeJSON applies fragment to def's JSON.
func mergeJSON(def Definition, fragment map[string]json.RawMessage) ([]byte, error) {
	b, _ := json.Marshal(def)
	var obj map[string]json.RawMessage
	_ = json.Unmarshal(b, &obj)
	for k, v := range fragment {
		switch {
		case string(v) == "null":
			delete(obj, k)
		case k == "notification":
			var base, part map[string]json.RawMessage
			_ = json.Unmarshal(obj[k], &base)
			if err := json.Unmarshal(v, &part); err != nil {
				return nil, problem("notification", "a JSON object is expected: %s", jsonError(err))
			}
			if base == nil {
				base = map[string]json.RawMessage{}
			}
			for nk, nv := range part {
				if string(nv) == "null" {
					delete(base, nk)
				} else {
					base[nk] = nv
				}
			}
			obj[k], _ = json.Marshal(base)
		default:
			obj[k] = v
		}
	}
	return json.Marshal(obj)
}

// remove deletes the subscription id of scope, dropping what it queued.
func (m *Manager) remove(scope twin.Scope, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, err := m.lookupLocked(scope.Key(), id)
	if err != nil {
		return err
	}
	delete(m.subs, id)
	if err := m.saveLocked(); err != nil {
		m.subs[id] = s
		return err
	}
	close(s.done)
	m.clearLocked(s, dropDeleted)
	m.met.subscriptions.Set(float64(len(m.subs)))
	m.signalChanged()
	m.cfg.Logger.Info("ngsi-ld subscription deleted", "subscription", id)
	return nil
}

func (m *Manager) signalChanged() {
	select {
	case m.changed <- struct{}{}:
	default:
	}
}

// statusOf says whether s is active, paused or expired at now.
func (s *sub) statusOf(now time.Time) string {
	switch {
	case !s.c.expires.IsZero() && !now.Before(s.c.expires):
		return "expired"
	case s.def.IsActive != nil && !*s.def.IsActive:
		return "paused"
	}
	return "active"
}
