package api

import (
	"net/http"
	"slices"
	"strings"

	"github.com/ponte-city/ponte/twin"
)

// Each tenant's public API: GET /t/{tenant}/api/v1/indicators and the
// other public routes, answered by an API of its own over the twin as the
// tenant's scope sees it (its areas' indicators, its areas' shapes), with
// the tenant's name and licence. Its caches are its own.

// TenantPublic returns the public routes of each tenant, by tenant ID,
// each to be mounted at /t/{ID}/ with the prefix stripped (TenantHandler
// does it).
func (a *API) tenantPublic() (map[string]http.Handler, error) {
	out := map[string]http.Handler{}
	for id, tn := range a.tenants {
		cfg := a.cfg
		cfg.Reader = tenantReader{a.reader, tn.Scope}
		cfg.Tenants = nil
		cfg.Alarms = nil
		cfg.Registerer = nil
		if tn.Licence != (Licence{}) {
			cfg.Public.Licence = tn.Licence
		}
		child, err := New(cfg)
		if err != nil {
			return nil, err
		}
		child.tenant = tn
		// One budget per client across the platform's and every tenant's
		// public API, or a client would get one per tenant.
		child.limiter = a.limiter
		h := child.Handler()
		mux := http.NewServeMux()
		for _, r := range publicRoutes {
			mux.Handle(r, h)
			if _, p, ok := strings.Cut(r, " "); ok && p != "/api/v1/openapi.json" {
				mux.Handle("OPTIONS "+p, h)
			}
		}
		out[id] = mux
	}
	return out, nil
}

// TenantHandler serves /t/{tenant}/api/v1/... (the tenant's public API)
// and hands /t/{tenant}/indicators/ to pages with the prefix stripped (the
// public page, which finds its API from its URL); /t/{tenant}/ leads to
// the page. An unknown tenant is 404.
func (a *API) TenantHandler(pages http.Handler) (http.Handler, error) {
	apis, err := a.tenantPublic()
	if err != nil {
		return nil, err
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rest, _ := strings.CutPrefix(r.URL.Path, "/t/")
		id, sub, _ := strings.Cut(rest, "/")
		h, ok := apis[id]
		if !ok {
			writeError(w, http.StatusNotFound, "", "no tenant "+quote(id))
			return
		}
		if sub == "" {
			http.Redirect(w, r, "/t/"+id+"/indicators/", http.StatusFound)
			return
		}
		if !strings.HasPrefix("/"+sub, "/api/v1/") {
			if !strings.HasPrefix("/"+sub, "/indicators/") {
				writeError(w, http.StatusNotFound, "", "no page "+quote(r.URL.Path)+" (a tenant's page is /t/"+id+"/indicators/)")
				return
			}
			h = pages
		}
		http.StripPrefix("/t/"+id, h).ServeHTTP(w, r)
	}), nil
}

// tenantReader is the twin as one tenant's public sees it: its entities,
// and the indicators of its areas; the city's are its coarsest area's when
// it has exactly one there (a municipality's tenant), else none.
type tenantReader struct {
	twin.Reader
	scope twin.Scope
}

// Entities returns the entities f selects that the tenant sees.
func (t tenantReader) Entities(f twin.Filter) []twin.Entity {
	return scopedReader{t.Reader, t.scope}.Entities(f)
}

// Entity returns the entity id if the tenant sees it.
func (t tenantReader) Entity(id string) (twin.Entity, bool) {
	return scopedReader{t.Reader, t.scope}.Entity(id)
}

// Indicators returns the tenant's areas' indicators.
func (t tenantReader) Indicators() twin.Indicators {
	in := t.Reader.Indicators()
	in.Areas = slices.DeleteFunc(slices.Clone(in.Areas), func(a twin.AreaIndicators) bool {
		return !t.scope.Visible(&twin.Entity{ID: a.ID, Kind: twin.KindArea})
	})
	in.City = nil
	for _, level := range twin.Levels() {
		var at []twin.AreaIndicators
		for _, a := range in.Areas {
			if a.Level == level {
				at = append(at, a)
			}
		}
		if len(at) > 0 {
			if len(at) == 1 {
				in.City = at[0].Indicators
			}
			break
		}
	}
	return in
}
