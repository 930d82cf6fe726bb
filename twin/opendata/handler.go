package opendata

import (
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Cache-Control of the handler's answers.
const (
	catalogCache = "public, max-age=300"
	todayCache   = "public, max-age=60"
	pastCache    = "public, max-age=31536000, immutable"
)

// HandlerConfig configures a Handler: one publisher's open data.
type HandlerConfig struct {
	// Catalog describes the publisher and where its routes are.
	Catalog CatalogConfig
	// Dir and Scope are the recorder's (RecorderConfig): the daily files
	// served are Dir/Scope/indicators-YYYY-MM-DD.csv.
	Dir, Scope string
	// Areas, if not nil, keeps the areas whose indicators count for the
	// catalogue's dct:modified (the tenant's); nil: all.
	Areas func(areaID string) bool
	// Since is when publishing began, the start of the datasets' time
	// coverage until there is a daily file older than it; zero: the
	// oldest daily file, else today.
	Since time.Time
}

// Handler serves one publisher's open data, mounted by the caller at
// .../opendata/ with that prefix stripped:
//
//	GET catalog.jsonld                      the DCAT-AP_IT catalogue, application/ld+json
//	GET catalog.ttl                         the same, text/turtle
//	GET daily/                              the index of daily files (JSON)
//	GET daily/indicators-YYYY-MM-DD.csv     one day's file
//
// Safe for concurrent use.
type Handler struct {
	cfg HandlerConfig
	src Source
	now func() time.Time
	loc *time.Location
}

// NewHandler returns the handler of cfg's open data, reading the
// indicators from src and the time from now (nil: time.Now).
func NewHandler(cfg HandlerConfig, src Source, now func() time.Time) (*Handler, error) {
	if err := cfg.Catalog.Validate(); err != nil {
		return nil, err
	}
	if cfg.Dir == "" || !ipaCode(strings.ReplaceAll(cfg.Scope, "-", "_")) {
		return nil, errors.New("opendata: handler: dir and scope (letters, digits, - and _) required, as the recorder's")
	}
	if now == nil {
		now = time.Now
	}
	return &Handler{cfg: cfg, src: src, now: now, loc: cfg.Catalog.withDefaults().location()}, nil
}

// ServeHTTP answers the routes listed on Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	p := strings.TrimPrefix(r.URL.Path, "/")
	switch {
	case p == "catalog.jsonld":
		h.serveCatalog(w, r, "application/ld+json", func(g *Graph) ([]byte, error) { return g.JSONLD() })
	case p == "catalog.ttl":
		h.serveCatalog(w, r, "text/turtle; charset=utf-8", func(g *Graph) ([]byte, error) { return g.Turtle(), nil })
	case p == "daily/" || p == "daily":
		h.serveIndex(w)
	case strings.HasPrefix(p, "daily/"):
		h.serveDay(w, r, strings.TrimPrefix(p, "daily/"))
	default:
		http.NotFound(w, r)
	}
}

// CatalogGraph builds the catalogue as of now.
func (h *Handler) CatalogGraph() (*Graph, error) {
	now := h.now()
	first, last, err := DailyCoverage(h.cfg.Dir, h.cfg.Scope)
	if err != nil {
		return nil, err
	}
	since := h.cfg.Since
	if !first.IsZero() && (since.IsZero() || first.Before(since)) {
		since = first
	}
	if since.IsZero() {
		since = now
	}
	var modified time.Time
	for _, ar := range h.src.Indicators().Areas {
		if h.cfg.Areas != nil && !h.cfg.Areas(ar.ID) {
			continue
		}
		for _, i := range ar.Indicators {
			if i.UpdatedAt.After(modified) {
				modified = i.UpdatedAt
			}
		}
	}
	return Catalog(h.cfg.Catalog, Datasets(h.cfg.Catalog, Coverage{Since: since, Modified: modified, LastDaily: last}), now)
}

func (h *Handler) serveCatalog(w http.ResponseWriter, r *http.Request, ctype string, render func(*Graph) ([]byte, error)) {
	g, err := h.CatalogGraph()
	var body []byte
	if err == nil {
		body, err = render(g)
	}
	if err != nil {
		http.Error(w, "catalogue: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Cache-Control", catalogCache)
	if l := h.cfg.Catalog.withDefaults().Licence; l.URL != "" {
		w.Header().Set("Link", "<"+l.URL+`>; rel="license"`)
	}
	http.ServeContent(w, r, "", time.Time{}, strings.NewReader(string(body)))
}

// dailyIndex is the body of GET daily/.
type dailyIndex struct {
	Scope string    `json:"scope"`
	Days  []DayFile `json:"days"`
}

func (h *Handler) serveIndex(w http.ResponseWriter) {
	days, err := listDays(filepath.Join(h.cfg.Dir, h.cfg.Scope))
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	base := h.cfg.Catalog.withDefaults().url("/opendata/daily/")
	for i := range days {
		days[i].URL = base + dailyName(days[i].Day)
	}
	if days == nil {
		days = []DayFile{}
	}
	b, err := json.Marshal(dailyIndex{Scope: h.cfg.Scope, Days: days})
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", todayCache)
	_, _ = w.Write(append(b, '\n'))
}

func (h *Handler) serveDay(w http.ResponseWriter, r *http.Request, name string) {
	day, ok := parseDayName(name)
	if !ok {
		http.NotFound(w, r)
		return
	}
	f, err := os.Open(filepath.Join(h.cfg.Dir, h.cfg.Scope, dailyName(day)))
	if err != nil {
		http.NotFound(w, r)
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+dailyName(day)+`"`)
	if day < h.now().In(h.loc).Format(time.DateOnly) {
		w.Header().Set("Cache-Control", pastCache)
	} else {
		w.Header().Set("Cache-Control", todayCache)
	}
	http.ServeContent(w, r, dailyName(day), st.ModTime(), f)
}
