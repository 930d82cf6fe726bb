package api

import (
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"

	"github.com/paulmach/orb"

	"github.com/ponte-city/ponte/twin"
)

// Limits on the type parameter.
const (
	maxTypes   = 32
	maxNameLen = 128
)

// parseBBox parses "minLon,minLat,maxLon,maxLat" in WGS84 degrees. A box
// crossing the antimeridian (minLon > maxLon) is refused: no Ponte city
// needs one, and a silent empty answer would hide the mistake.
func parseBBox(s string) (orb.Bound, error) {
	parts := strings.Split(s, ",")
	if len(parts) != 4 {
		return orb.Bound{}, &paramError{"bbox", fmt.Sprintf("%d numbers, want 4: minLon,minLat,maxLon,maxLat", len(parts))}
	}
	names := [4]string{"minLon", "minLat", "maxLon", "maxLat"}
	var v [4]float64
	for i, p := range parts {
		f, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return orb.Bound{}, &paramError{"bbox", fmt.Sprintf("%s %q is not a finite number", names[i], clip(p))}
		}
		lim := 180.0
		if i%2 == 1 {
			lim = 90
		}
		if f < -lim || f > lim {
			return orb.Bound{}, &paramError{"bbox", fmt.Sprintf("%s %v is out of range [-%v, %v]", names[i], f, lim, lim)}
		}
		v[i] = f
	}
	if v[0] > v[2] {
		return orb.Bound{}, &paramError{"bbox", fmt.Sprintf("minLon %v > maxLon %v", v[0], v[2])}
	}
	if v[1] > v[3] {
		return orb.Bound{}, &paramError{"bbox", fmt.Sprintf("minLat %v > maxLat %v", v[1], v[3])}
	}
	return orb.Bound{Min: orb.Point{v[0], v[1]}, Max: orb.Point{v[2], v[3]}}, nil
}

// parseTypes parses a comma-separated list of FIWARE types or kinds.
func parseTypes(s string) ([]string, error) {
	parts := strings.Split(s, ",")
	if len(parts) > maxTypes {
		return nil, &paramError{"type", fmt.Sprintf("%d types, want at most %d", len(parts), maxTypes)}
	}
	out := make([]string, 0, len(parts))
	for _, p := range parts {
		p = strings.TrimSpace(p)
		if err := checkName(p); err != "" {
			return nil, &paramError{"type", fmt.Sprintf("%q %s", clip(p), err)}
		}
		out = append(out, p)
	}
	return out, nil
}

// checkName says what is wrong with a type or point name, or "".
func checkName(s string) string {
	if s == "" {
		return "is empty, want a name such as AirQualityObserved or site"
	}
	if len(s) > maxNameLen {
		return fmt.Sprintf("is longer than %d bytes", maxNameLen)
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.' || c == ':') {
			return fmt.Sprintf("has the character %q, want letters, digits, _ - . :", c)
		}
	}
	return ""
}

// parseFilter reads the bbox and type parameters.
func parseFilter(q url.Values) (twin.Filter, error) {
	var f twin.Filter
	if q.Has("bbox") {
		b, err := parseBBox(q.Get("bbox"))
		if err != nil {
			return f, err
		}
		f.Bound = &b
	}
	if q.Has("type") {
		t, err := parseTypes(q.Get("type"))
		if err != nil {
			return f, err
		}
		f.Types = t
	}
	return f, nil
}

// clip shortens s for an error message.
func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

// quote quotes s for an error message, shortened.
func quote(s string) string { return strconv.Quote(clip(s)) }
