package api

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ponte-city/ponte/twin"
)

// publicCache is the Cache-Control of the public answers.
const publicCache = "public, max-age=10"

// CSVHeader returns the header row of /api/v1/indicators.csv.
func CSVHeader() []string {
	return []string{"scope", "area_id", "area_name", "indicator", "value", "unit", "sensors", "window", "updated_at"}
}

// sanitized returns ind with values JSON can carry (NaN, ±Inf as null)
// and nil slices as empty ones.
func sanitized(ind twin.Indicators) twin.Indicators {
	fix := func(in []twin.Indicator) []twin.Indicator {
		out := make([]twin.Indicator, len(in))
		for i, x := range in {
			x.Value = finite(x.Value)
			out[i] = x
		}
		return out
	}
	out := twin.Indicators{Generated: ind.Generated, City: fix(ind.City), Areas: make([]twin.AreaIndicators, len(ind.Areas))}
	for i, a := range ind.Areas {
		a.Indicators = fix(a.Indicators)
		out.Areas[i] = a
	}
	return out
}

// handleIndicators answers GET /api/v1/indicators.
func (a *API) handleIndicators(w http.ResponseWriter, r *http.Request) {
	ind, ok := a.indicatorsAt(w, r)
	if !ok {
		return
	}
	lang := a.language(r)
	b, err := json.Marshal(a.publicAnswer(ind, lang))
	if err != nil {
		writeError(w, http.StatusInternalServerError, "", "encode indicators: "+err.Error())
		return
	}
	w.Header().Add("Vary", "Accept-Language")
	a.servePublic(w, r, "application/json", append(b, '\n'))
}

// handleIndicatorsCSV answers GET /api/v1/indicators.csv.
func (a *API) handleIndicatorsCSV(w http.ResponseWriter, r *http.Request) {
	ind, ok := a.indicatorsAt(w, r)
	if !ok {
		return
	}
	a.servePublic(w, r, "text/csv; charset=utf-8", indicatorsCSV(ind))
}

// indicatorsCSV renders ind as CSV: one row per indicator, the city's
// first (scope "city", empty area columns), then each area's.
func indicatorsCSV(ind twin.Indicators) []byte {
	var buf bytes.Buffer
	cw := csv.NewWriter(&buf)
	_ = cw.Write(CSVHeader())
	row := func(scope, id, name string, i twin.Indicator) {
		v := ""
		if f := finite(i.Value); f != nil {
			v = strconv.FormatFloat(*f, 'f', -1, 64)
		}
		at := ""
		if !i.UpdatedAt.IsZero() {
			at = i.UpdatedAt.UTC().Format(time.RFC3339)
		}
		_ = cw.Write([]string{scope, cell(id), cell(name), cell(i.Name), v, cell(i.Unit), strconv.Itoa(i.Sensors), cell(i.Window), at})
	}
	for _, i := range ind.City {
		row("city", "", "", i)
	}
	for _, ar := range ind.Areas {
		for _, i := range ar.Indicators {
			row("area", ar.ID, ar.Name, i)
		}
	}
	cw.Flush()
	return buf.Bytes()
}

// cell defuses a text cell a spreadsheet would run as a formula (CSV
// injection): one starting with = + - @ or a tab or CR gets a leading '.
func cell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// etagMatch says whether an If-None-Match header matches etag (weak
// comparison, as RFC 9110 asks for If-None-Match).
func etagMatch(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == etag {
			return true
		}
	}
	return false
}
