package enrol

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/ponte-city/ponte/internal/atomicfile"
	"github.com/ponte-city/ponte/internal/site"
)

// The registry keeps its records in a store: the files of Config.Dir (one
// machine, filestore below) or a replicated JetStream key-value bucket
// (Config.NATS, kvstore.go). The registry's own copy (its view) is built
// from the records a store hands back, with their revisions, whether they
// come from this instance's writes or, with the bucket, from a watch of
// every instance's writes: a record is taken only if its revision is newer
// than the one the view holds, so each change is applied once and, per
// key, in order.

// errConflict says a record changed since it was read (another instance
// wrote it): the operation is tried again from a fresh read.
var errConflict = errors.New("changed meanwhile by another ingest instance")

// recKind is what a record is.
type recKind uint8

const (
	recToken recKind = iota + 1
	recGateway
)

// rec is one record with its revision.
type rec struct {
	kind recKind
	id   string
	rev  uint64
	// deleted: the record is gone (a spent token pruned).
	deleted bool
	token   *Token
	gw      *Gateway
	// site is a gateway's site config as enrolled (nil: unchanged), kept
	// at siteName; parsed, if set, is site already parsed.
	site     []byte
	siteName string
	parsed   *site.Site
}

func (r rec) key() string {
	if r.kind == recToken {
		return "t/" + r.id
	}
	return "g/" + r.id
}

// enrolWrite is one enrolment for a store to record.
type enrolWrite struct {
	// token is the token marked used, read at tokRev: the claim fails
	// with errConflict if the token changed since.
	token  *Token
	tokRev uint64
	// gw is the gateway's new record, built on the one read before; a
	// store that finds another record there by then rebases it (rebase).
	gw     *Gateway
	site   []byte
	parsed *site.Site
}

// store keeps the registry's records: tokens and gateways (each with its
// site config), each with a revision. Writes name the revision read and
// fail with errConflict when the record changed since. The registry
// serialises its own writes; a store's methods must still be safe for
// concurrent use with follow.
type store interface {
	// load returns every record.
	load(ctx context.Context) ([]rec, error)
	// token and gateway read one record from the authority (nil and 0
	// when there is none).
	token(ctx context.Context, id string) (*Token, uint64, error)
	gateway(ctx context.Context, id string) (*Gateway, uint64, error)
	createToken(ctx context.Context, t *Token) ([]rec, error)
	// enrol claims the token, then writes the site config and the
	// gateway.
	enrol(ctx context.Context, w *enrolWrite) ([]rec, error)
	// complete finishes an enrolment whose token was claimed but whose
	// gateway was not written (an instance that failed in between); a
	// no-op if there is none.
	complete(ctx context.Context, t *Token, rev uint64) ([]rec, error)
	putGateway(ctx context.Context, g *Gateway, rev uint64) ([]rec, error)
	// updateToken writes t over the token read at rev (revoke.go).
	updateToken(ctx context.Context, t *Token, rev uint64) ([]rec, error)
	// prune drops spent tokens and stale answers (spent) of the tokens
	// given with their revisions.
	prune(ctx context.Context, tokens []rec, now time.Time) []rec
	// follow hands every record written elsewhere to apply, in order,
	// until ctx is done (a store no one else writes returns at once).
	follow(ctx context.Context, apply func(rec))
	close()
}

// rebase makes g, built on an older record of its gateway, follow prev
// (the record now there): the first enrolment time and the count.
func rebase(g, prev *Gateway) *Gateway {
	out := *g
	if prev == nil {
		out.Enrolled, out.Enrolments = out.Updated, 1
	} else {
		out.Enrolled, out.Enrolments = prev.Enrolled, prev.Enrolments+1
	}
	return &out
}

// spent says what pruning does with a token: strip its sealed answer
// (past replayWindow) or drop it (used or expired for keepSpentTokens).
func spent(t *Token, now time.Time) (strip, drop bool) {
	strip = t.Used != nil && now.Sub(*t.Used) > replayWindow && (t.Answer != "" || t.AttemptHash != "")
	drop = (t.Used != nil || now.After(t.Expires)) && now.Sub(t.Expires) > keepSpentTokens && (t.Used == nil || now.Sub(*t.Used) > keepSpentTokens)
	return strip, drop
}

// fileStore is the registry in Dir: registry.json (tokens and gateways,
// one atomic write per change, as one machine's ingest always kept it) and
// sites/<gateway>.yaml. Revisions are a counter of this process.
type fileStore struct {
	dir string
	now func() time.Time

	mu   sync.Mutex
	st   state
	seq  uint64
	revs map[string]uint64
}

func openFileStore(dir string, now func() time.Time) (*fileStore, error) {
	if err := os.MkdirAll(filepath.Join(dir, "sites"), 0o700); err != nil {
		return nil, fmt.Errorf("enrol: %w", err)
	}
	// Only ingest reads the registry (an existing folder keeps no wider
	// mode).
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, fmt.Errorf("enrol: %w", err)
	}
	return &fileStore{dir: dir, now: now, revs: map[string]uint64{},
		st: state{Version: stateVersion, Tokens: map[string]*Token{}, Gateways: map[string]*Gateway{}}}, nil
}

func (f *fileStore) statePath() string { return filepath.Join(f.dir, "registry.json") }

func (f *fileStore) sitePath(id string) string {
	return filepath.Join(f.dir, "sites", id+".yaml")
}

func (f *fileStore) load(context.Context) ([]rec, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	path := f.statePath()
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("enrol: %w", err)
	default:
		dec := json.NewDecoder(strings.NewReader(string(data)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&f.st); err != nil {
			return nil, fmt.Errorf("enrol: %s: %w (the registry is written by ingest only; restore it from a backup)", path, err)
		}
		if f.st.Version != stateVersion {
			return nil, fmt.Errorf("enrol: %s: version %d (this ingest reads version %d)", path, f.st.Version, stateVersion)
		}
		if f.st.Tokens == nil {
			f.st.Tokens = map[string]*Token{}
		}
		if f.st.Gateways == nil {
			f.st.Gateways = map[string]*Gateway{}
		}
	}
	var out []rec
	var errs []error
	for id, t := range f.st.Tokens {
		out = append(out, f.tokenRec(id, t))
	}
	for id, g := range f.st.Gateways {
		p := f.sitePath(id)
		raw, err := os.ReadFile(p)
		if err != nil {
			errs = append(errs, fmt.Errorf("read site config: %w", err))
			continue
		}
		r := f.gatewayRec(id, g)
		r.site, r.siteName = raw, p
		out = append(out, r)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("enrol: %w", err)
	}
	return out, nil
}

// bump gives key a new revision; the caller holds mu.
func (f *fileStore) bump(key string) uint64 {
	f.seq++
	f.revs[key] = f.seq
	return f.seq
}

func (f *fileStore) tokenRec(id string, t *Token) rec {
	c := *t
	return rec{kind: recToken, id: id, token: &c, rev: f.bump("t/" + id)}
}

func (f *fileStore) gatewayRec(id string, g *Gateway) rec {
	c := *g
	return rec{kind: recGateway, id: id, gw: &c, rev: f.bump("g/" + id)}
}

func (f *fileStore) token(_ context.Context, id string) (*Token, uint64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t := f.st.Tokens[id]
	if t == nil {
		return nil, 0, nil
	}
	c := *t
	return &c, f.revs["t/"+id], nil
}

func (f *fileStore) gateway(_ context.Context, id string) (*Gateway, uint64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	g := f.st.Gateways[id]
	if g == nil {
		return nil, 0, nil
	}
	c := *g
	return &c, f.revs["g/"+id], nil
}

func (f *fileStore) createToken(_ context.Context, t *Token) ([]rec, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := *t
	f.st.Tokens[t.ID] = &c
	pruned, err := f.save()
	if err != nil {
		delete(f.st.Tokens, t.ID)
		return nil, err
	}
	return append(pruned, f.tokenRec(t.ID, t)), nil
}

func (f *fileStore) enrol(_ context.Context, w *enrolWrite) ([]rec, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	tid, id := w.token.ID, w.gw.ID
	if f.revs["t/"+tid] != w.tokRev {
		return nil, errConflict
	}
	g := rebase(w.gw, f.st.Gateways[id])
	// The site config first: a registry.json that names a gateway always
	// has its site config on disk.
	p := f.sitePath(id)
	if err := atomicfile.Write(p, w.site, 0o600); err != nil {
		return nil, err
	}
	oldTok, prev := f.st.Tokens[tid], f.st.Gateways[id]
	tc := *w.token
	f.st.Tokens[tid], f.st.Gateways[id] = &tc, g
	pruned, err := f.save()
	if err != nil {
		f.st.Tokens[tid] = oldTok
		if prev != nil {
			f.st.Gateways[id] = prev
		} else {
			delete(f.st.Gateways, id)
		}
		return nil, err
	}
	gr := f.gatewayRec(id, g)
	gr.site, gr.siteName, gr.parsed = w.site, p, w.parsed
	return append(pruned, f.tokenRec(tid, &tc), gr), nil
}

// complete has nothing to do: a file store writes an enrolment at once.
func (f *fileStore) complete(context.Context, *Token, uint64) ([]rec, error) { return nil, nil }

func (f *fileStore) putGateway(_ context.Context, g *Gateway, rev uint64) ([]rec, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.revs["g/"+g.ID] != rev {
		return nil, errConflict
	}
	prev := f.st.Gateways[g.ID]
	c := *g
	f.st.Gateways[g.ID] = &c
	pruned, err := f.save()
	if err != nil {
		f.st.Gateways[g.ID] = prev
		return nil, err
	}
	return append(pruned, f.gatewayRec(g.ID, g)), nil
}

// prune has nothing to do: save prunes.
func (f *fileStore) prune(context.Context, []rec, time.Time) []rec { return nil }

func (f *fileStore) follow(context.Context, func(rec)) {}

func (f *fileStore) close() {}

// save writes registry.json, pruning spent tokens first, and returns the
// records pruning changed; the caller holds mu.
func (f *fileStore) save() ([]rec, error) {
	now := f.now()
	var out []rec
	for id, t := range f.st.Tokens {
		strip, drop := spent(t, now)
		switch {
		case drop:
			delete(f.st.Tokens, id)
			out = append(out, rec{kind: recToken, id: id, deleted: true, rev: f.bump("t/" + id)})
		case strip:
			t.Answer, t.AttemptHash = "", ""
			out = append(out, f.tokenRec(id, t))
		}
	}
	data, err := json.MarshalIndent(f.st, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := atomicfile.Write(f.statePath(), append(data, '\n'), 0o600); err != nil {
		return nil, err
	}
	return out, nil
}
