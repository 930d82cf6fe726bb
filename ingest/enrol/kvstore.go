package enrol

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ponte-city/ponte/internal/backoff"
	"github.com/ponte-city/ponte/internal/natskv"
	"github.com/ponte-city/ponte/internal/site"
)

// DefaultBucket is the key-value bucket of the enrolment registry.
const DefaultBucket = "ponte-enrol"

// KVConfig puts the registry in a replicated JetStream key-value bucket,
// shared by the ingest instances of a NATS cluster (Config.NATS).
type KVConfig struct {
	// URLs are the NATS servers ("nats://host:4222"); any reachable node
	// is enough.
	URLs []string
	// Bucket is the bucket (default DefaultBucket), created if missing
	// with Replicas (default 3; 1 for a single server) and a history of 1.
	Bucket   string
	Replicas int
	// Timeout bounds each request to NATS (default 5s).
	Timeout time.Duration
	// Options are the connection's login and TLS (natsauth).
	Options []nats.Option
}

// Validate checks the configuration and fills in defaults; errors name
// the field of enrolment.nats.
func (c *KVConfig) Validate() error {
	errs := natskv.CheckBucket("enrolment.nats", c.URLs, &c.Bucket, DefaultBucket, &c.Replicas, &c.Timeout)
	return errors.Join(errs...)
}

// Keys of the bucket. A gateway's record and its site config are apart
// (a site config may be up to wire.MaxEnrolBytes); the site config's key
// carries a hash of its content, which the record names (SiteHash), so a
// record never meets another enrolment's site config.
const (
	kvTokenPrefix   = "token."
	kvGatewayPrefix = "gateway."
	kvSitePrefix    = "site."
)

// KVGatewayKey is the bucket key of a gateway's record: a JSON Gateway
// whose bcrypt field is the hash of its current password (empty when
// revoked), for a NATS auth callout that reads the bucket.
func KVGatewayKey(id string) string { return kvGatewayPrefix + natskv.Key(id) }

func kvTokenKey(id string) string { return kvTokenPrefix + id }

func kvSiteKey(id, hash string) string { return kvSitePrefix + natskv.Key(id) + "." + hash }

// siteHash names a site config's content.
func siteHash(site []byte) string {
	s := sha256.Sum256(site)
	return hex.EncodeToString(s[:8])
}

// kvStore is the registry in a JetStream key-value bucket: one key per
// token (token.<id>), per gateway (gateway.<id>) and per site config
// (site.<id>.<hash>). Every write is a compare-and-swap on the revision
// read from the bucket stream's leader; a write whose answer was lost is
// read back.
//
// An enrolment is three writes: the site config (under its hash: harmless
// if what follows fails), the token's claim (the compare-and-swap that
// lets a token enrol once across instances; it carries the gateway's new
// record as Pending), then the gateway's record. An instance that fails
// after the claim leaves the enrolment pending: the gateway's retry of
// the same attempt, on any instance, completes it from Pending.
type kvStore struct {
	cfg KVConfig
	log *slog.Logger
	nc  *nats.Conn
	kv  jetstream.KeyValue

	mu    sync.Mutex
	w     jetstream.KeyWatcher
	last  uint64            // the last revision the watcher delivered
	sites map[string][]byte // site configs by key, as watched
}

// kvRetry is the backoff between a failed watch and the next.
var kvRetry = backoff.Policy{Base: 250 * time.Millisecond, Max: 5 * time.Second, Jitter: backoff.Equal}

// casAttempts bounds the compare-and-swap of a gateway's record against
// other instances' writes.
const casAttempts = 8

func openKVStore(ctx context.Context, cfg KVConfig, log *slog.Logger) (*kvStore, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("enrol: %w", err)
	}
	nc, kv, err := natskv.Open(ctx, natskv.Config{What: "enrol", URLs: cfg.URLs, Bucket: cfg.Bucket, Replicas: cfg.Replicas,
		Description: "ponte ingest enrolment registry: tokens, gateways, site configs", Timeout: cfg.Timeout,
		Options: cfg.Options, Logger: log})
	if err != nil {
		return nil, err
	}
	return &kvStore{cfg: cfg, log: log, nc: nc, kv: kv, sites: map[string][]byte{}}, nil
}

func (s *kvStore) timeout(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.cfg.Timeout)
}

// load reads the bucket's content through a watch, which then follows.
func (s *kvStore) load(ctx context.Context) ([]rec, error) {
	ctx, cancel := context.WithTimeout(ctx, natskv.OpenAttempt*s.cfg.Timeout)
	defer cancel()
	w, err := s.kv.WatchAll(context.Background())
	if err != nil {
		return nil, fmt.Errorf("enrol: watch bucket %s: %w", s.cfg.Bucket, err)
	}
	var entries []jetstream.KeyValueEntry
	for {
		select {
		case e, ok := <-w.Updates():
			if !ok {
				return nil, fmt.Errorf("enrol: watch bucket %s ended while reading it", s.cfg.Bucket)
			}
			if e != nil {
				entries = append(entries, e)
				continue
			}
		case <-ctx.Done():
			_ = w.Stop()
			return nil, fmt.Errorf("enrol: read bucket %s: %w", s.cfg.Bucket, ctx.Err())
		}
		break
	}
	s.mu.Lock()
	s.w = w
	s.mu.Unlock()
	// Site configs first: a record names one, which may come after it in
	// revision order (a record revoked after a later re-enrolment's site
	// config was written).
	var out []rec
	for _, e := range entries {
		s.see(e)
	}
	for _, e := range entries {
		if r, ok := s.decode(ctx, e); ok {
			out = append(out, r)
		}
	}
	return out, nil
}

// see notes what a watched entry says of site configs and revisions.
func (s *kvStore) see(e jetstream.KeyValueEntry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.last = max(s.last, e.Revision())
	if !strings.HasPrefix(e.Key(), kvSitePrefix) {
		return
	}
	if e.Operation() == jetstream.KeyValuePut {
		s.sites[e.Key()] = e.Value()
	} else {
		delete(s.sites, e.Key())
	}
}

// decode turns a watched entry into a record (false for a site config
// or a value this ingest cannot read, which is logged).
func (s *kvStore) decode(ctx context.Context, e jetstream.KeyValueEntry) (rec, bool) {
	k := e.Key()
	del := e.Operation() != jetstream.KeyValuePut
	switch {
	case strings.HasPrefix(k, kvTokenPrefix):
		r := rec{kind: recToken, id: strings.TrimPrefix(k, kvTokenPrefix), rev: e.Revision(), deleted: del}
		if del {
			return r, true
		}
		r.token = &Token{}
		if err := json.Unmarshal(e.Value(), r.token); err != nil {
			s.log.Error("enrolment token in the bucket unreadable; ignored", "bucket", s.cfg.Bucket, "key", k, "revision", e.Revision(), "err", err)
			return rec{}, false
		}
		r.id = r.token.ID
		return r, true
	case strings.HasPrefix(k, kvGatewayPrefix):
		if del {
			return rec{}, false // records of gateways are never deleted
		}
		g := &Gateway{}
		if err := json.Unmarshal(e.Value(), g); err != nil {
			s.log.Error("gateway record in the bucket unreadable; ignored", "bucket", s.cfg.Bucket, "key", k, "revision", e.Revision(), "err", err)
			return rec{}, false
		}
		r := rec{kind: recGateway, id: g.ID, rev: e.Revision(), gw: g}
		r.siteName = "nats:" + s.cfg.Bucket + "/" + kvSiteKey(g.ID, g.SiteHash)
		r.site = s.siteOf(ctx, g)
		if r.site == nil {
			s.log.Error("gateway record names a site config the bucket does not hold; ignored", "bucket", s.cfg.Bucket, "gateway", g.ID, "site", r.siteName)
			return rec{}, false
		}
		return r, true
	}
	return rec{}, false
}

// siteOf returns the site config a gateway's record names, as watched or
// else from the bucket.
func (s *kvStore) siteOf(ctx context.Context, g *Gateway) []byte {
	k := kvSiteKey(g.ID, g.SiteHash)
	s.mu.Lock()
	v, ok := s.sites[k]
	s.mu.Unlock()
	if ok {
		return v
	}
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	v, _, err := natskv.LeaderGet(ctx, s.nc, s.cfg.Bucket, k)
	if err != nil {
		s.log.Warn("site config not read from the bucket", "key", k, "err", err)
	}
	return v
}

// follow hands on what the watcher delivers; a watch that ends is opened
// again after the last revision seen.
func (s *kvStore) follow(ctx context.Context, apply func(rec)) {
	for n := 0; ; {
		s.mu.Lock()
		w := s.w
		s.mu.Unlock()
		if w == nil {
			var err error
			s.mu.Lock()
			from := s.last + 1
			s.mu.Unlock()
			w, err = s.kv.WatchAll(ctx, jetstream.ResumeFromRevision(from))
			if err != nil {
				wait := kvRetry.Wait(n)
				n++
				s.log.Warn("enrol: watch of the bucket not resumed; retrying", "bucket", s.cfg.Bucket, "from", from, "retry_in", wait, "err", err)
				select {
				case <-ctx.Done():
					return
				case <-time.After(wait):
				}
				continue
			}
			s.mu.Lock()
			s.w = w
			s.mu.Unlock()
		}
		select {
		case <-ctx.Done():
			_ = w.Stop()
			return
		case e, ok := <-w.Updates():
			if !ok {
				s.log.Warn("enrol: watch of the bucket ended; resuming", "bucket", s.cfg.Bucket)
				s.mu.Lock()
				s.w = nil
				s.mu.Unlock()
				continue
			}
			if e == nil {
				continue
			}
			n = 0
			s.see(e)
			if r, ok := s.decode(ctx, e); ok {
				apply(r)
			}
		}
	}
}

func (s *kvStore) close() { s.nc.Close() }

// get reads a record's value from the leader.
func (s *kvStore) get(ctx context.Context, key string, v any) (bool, uint64, error) {
	ctx, cancel := s.timeout(ctx)
	defer cancel()
	data, rev, err := natskv.LeaderGet(ctx, s.nc, s.cfg.Bucket, key)
	if err != nil {
		return false, 0, fmt.Errorf("enrol: read %s from bucket %s: %w", key, s.cfg.Bucket, err)
	}
	if len(data) == 0 {
		return false, rev, nil
	}
	if err := json.Unmarshal(data, v); err != nil {
		return false, 0, fmt.Errorf("enrol: %s in bucket %s, revision %d: %w", key, s.cfg.Bucket, rev, err)
	}
	return true, rev, nil
}

func (s *kvStore) token(ctx context.Context, id string) (*Token, uint64, error) {
	t := &Token{}
	ok, rev, err := s.get(ctx, kvTokenKey(id), t)
	if !ok {
		t = nil
	}
	return t, rev, err
}

func (s *kvStore) gateway(ctx context.Context, id string) (*Gateway, uint64, error) {
	g := &Gateway{}
	ok, rev, err := s.get(ctx, KVGatewayKey(id), g)
	if !ok {
		g = nil
	}
	return g, rev, err
}

// cas writes value at key if the key is at rev (0: absent or deleted);
// a write whose answer was lost is read back (the same value at a later
// revision: it was applied). A wrong revision is errConflict.
func (s *kvStore) cas(ctx context.Context, key string, value []byte, rev uint64) (uint64, error) {
	wctx, cancel := s.timeout(ctx)
	var n uint64
	var err error
	if rev == 0 {
		n, err = s.kv.Create(wctx, key, value)
	} else {
		n, err = s.kv.Update(wctx, key, value, rev)
	}
	cancel()
	if err == nil {
		return n, nil
	}
	rctx, cancel := s.timeout(ctx)
	defer cancel()
	got, grev, gerr := natskv.LeaderGet(rctx, s.nc, s.cfg.Bucket, key)
	if gerr == nil && grev > rev && bytes.Equal(got, value) {
		s.log.Info("enrol: write applied though its answer was lost", "key", key, "revision", grev, "err", err)
		return grev, nil
	}
	if errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		return 0, fmt.Errorf("enrol: %s at revision %d: %w (%v)", key, rev, errConflict, err)
	}
	return 0, fmt.Errorf("enrol: write %s to bucket %s: %w", key, s.cfg.Bucket, err)
}

func (s *kvStore) putToken(ctx context.Context, t *Token, rev uint64) (rec, error) {
	value, err := json.Marshal(t)
	if err != nil {
		return rec{}, err
	}
	n, err := s.cas(ctx, kvTokenKey(t.ID), value, rev)
	if err != nil {
		return rec{}, err
	}
	c := *t
	return rec{kind: recToken, id: t.ID, rev: n, token: &c}, nil
}

func (s *kvStore) createToken(ctx context.Context, t *Token) ([]rec, error) {
	r, err := s.putToken(ctx, t, 0)
	if err != nil {
		return nil, err
	}
	return []rec{r}, nil
}

func (s *kvStore) enrol(ctx context.Context, w *enrolWrite) ([]rec, error) {
	id := w.gw.ID
	g := *w.gw
	g.SiteHash = siteHash(w.site)
	sk := kvSiteKey(id, g.SiteHash)
	pctx, cancel := s.timeout(ctx)
	_, err := s.kv.Put(pctx, sk, w.site)
	cancel()
	if err != nil {
		return nil, fmt.Errorf("enrol: write %s to bucket %s: %w", sk, s.cfg.Bucket, err)
	}
	claim := *w.token
	claim.Pending = &g
	tr, err := s.putToken(ctx, &claim, w.tokRev)
	if err != nil {
		return nil, err
	}
	out, err := s.finish(ctx, tr.token, tr.rev, w.site, w.parsed)
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (s *kvStore) complete(ctx context.Context, t *Token, rev uint64) ([]rec, error) {
	if t.Pending == nil {
		return nil, nil
	}
	s.log.Warn("enrol: completing an enrolment another attempt left pending", "token", t.ID, "gateway", t.Pending.ID)
	return s.finish(ctx, t, rev, nil, nil)
}

// finish writes a claimed token's pending gateway record, then clears the
// token's Pending. trev is the revision of the token's claim.
//
// Enrolments of one gateway are ordered by the bucket revisions of their
// claims, never by the instances' clocks (which may disagree): the record
// carries its claim's revision (Gateway.Claim), and a record there from a
// later claim, or a revocation written after this claim, is not
// overwritten. Then this enrolment's credentials were never recorded, and
// finish returns a refusal (superseded): answering them would lock the
// gateway out.
func (s *kvStore) finish(ctx context.Context, t *Token, trev uint64, raw []byte, parsed *site.Site) ([]rec, error) {
	p := t.Pending
	var out []rec
	var lost error
	for n := 0; ; n++ {
		prev, grev, err := s.gateway(ctx, p.ID)
		if err != nil {
			return nil, err
		}
		if prev != nil && prev.Token == t.ID {
			break // done already, by another attempt
		}
		if lost = superseded(prev, grev, t.ID, trev); lost != nil {
			break
		}
		g := rebase(p, prev)
		g.Claim = trev
		value, err := json.Marshal(g)
		if err != nil {
			return nil, err
		}
		rev, err := s.cas(ctx, KVGatewayKey(p.ID), value, grev)
		if errors.Is(err, errConflict) && n < casAttempts {
			continue
		}
		if err != nil {
			return nil, err
		}
		r := rec{kind: recGateway, id: g.ID, rev: rev, gw: g, parsed: parsed,
			siteName: "nats:" + s.cfg.Bucket + "/" + kvSiteKey(g.ID, g.SiteHash)}
		if r.site = raw; r.site == nil {
			r.site = s.siteOf(ctx, g)
		}
		out = append(out, r)
		if prev != nil && prev.SiteHash != "" && prev.SiteHash != g.SiteHash {
			dctx, cancel := s.timeout(ctx)
			if err := s.kv.Delete(dctx, kvSiteKey(g.ID, prev.SiteHash)); err != nil {
				s.log.Warn("enrol: the previous site config stays in the bucket", "gateway", g.ID, "err", err)
			}
			cancel()
		}
		break
	}
	done := *t
	done.Pending = nil
	tr, err := s.putToken(ctx, &done, trev)
	if err != nil {
		// The gateway is enrolled (or this enrolment lost); a token left
		// pending is completed again (a no-op) by a retry.
		s.log.Warn("enrol: token's claim not cleared", "token", t.ID, "err", err)
		c := *t
		tr = rec{kind: recToken, id: t.ID, rev: trev, token: &c}
	}
	if lost != nil {
		s.log.Warn("enrol: enrolment superseded before its record was written; refused", "token", t.ID, "gateway", p.ID, "err", lost)
		return nil, lost // the watch brings the token's record
	}
	return append(out, tr), nil
}

// superseded says why the enrolment of token tok, claimed at revision
// trev, must not write its gateway's record over prev (read at revision
// grev): a later claim wrote prev, or prev is a revocation written after
// the claim. nil when it may (no record, or one from an earlier claim,
// or a revocation from before it).
func superseded(prev *Gateway, grev uint64, tok string, trev uint64) error {
	switch {
	case prev == nil:
		return nil
	case prev.Revoked != nil && grev > trev:
		return refuse(http.StatusConflict, "gateway %s was revoked (by %s) while its enrolment with token %s was being recorded; its credentials were not recorded (ask the operators for a new token)",
			prev.ID, prev.RevokedBy, tok)
	case prev.Revoked == nil && prev.Claim > trev:
		return refuse(http.StatusConflict, "gateway %s was enrolled again (token %s) while its enrolment with token %s was being recorded; the gateway's credentials are that enrolment's, not these (enrol again with a new token if that was not you)",
			prev.ID, prev.Token, tok)
	}
	return nil
}

func (s *kvStore) putGateway(ctx context.Context, g *Gateway, rev uint64) ([]rec, error) {
	value, err := json.Marshal(g)
	if err != nil {
		return nil, err
	}
	n, err := s.cas(ctx, KVGatewayKey(g.ID), value, rev)
	if err != nil {
		return nil, err
	}
	c := *g
	return []rec{{kind: recGateway, id: g.ID, rev: n, gw: &c}}, nil
}

// prune drops spent tokens (a delete at the revision seen) and strips
// stale answers; a token another instance changed meanwhile is left for
// the next time.
func (s *kvStore) prune(ctx context.Context, tokens []rec, now time.Time) []rec {
	var out []rec
	for _, r := range tokens {
		strip, drop := spent(r.token, now)
		switch {
		case drop:
			dctx, cancel := s.timeout(ctx)
			err := s.kv.Delete(dctx, kvTokenKey(r.id), jetstream.LastRevision(r.rev))
			cancel()
			if err != nil {
				s.log.Debug("enrol: spent token not pruned", "token", r.id, "err", err)
				continue
			}
			out = append(out, rec{kind: recToken, id: r.id, deleted: true})
		case strip:
			c := *r.token
			c.Answer, c.AttemptHash = "", ""
			tr, err := s.putToken(ctx, &c, r.rev)
			if err != nil {
				s.log.Debug("enrol: stale answer not pruned", "token", r.id, "err", err)
				continue
			}
			out = append(out, tr)
		}
	}
	return out
}
