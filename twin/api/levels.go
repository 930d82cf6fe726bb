package api

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/ponte-city/ponte/twin"
)

// levelAll asks for the areas of every level.
const levelAll = "all"

// byLevel keeps the areas of one level of ind, as the level query
// parameter asks: a level name, "all", or empty for the default level —
// the municipalities when the twin has them (what the answer held before
// there were levels, and what the shipped ISTAT layers are), else the
// finest level present. Areas without a level (a Reader that predates
// levels) count as municipalities. A level the twin does not have is an
// error listing those it has.
func byLevel(ind twin.Indicators, level string) (twin.Indicators, error) {
	if level == levelAll {
		return ind, nil
	}
	levelOf := func(a twin.AreaIndicators) string { return orMunicipality(a.Level) }
	present := levelsOf(ind)
	if level == "" {
		switch {
		case len(present) == 0 || slices.Contains(present, twin.LevelMunicipality):
			level = twin.LevelMunicipality
		default:
			for _, l := range twin.Levels() {
				if slices.Contains(present, l) {
					level = l // Levels runs coarsest to finest: the last found wins
				}
			}
		}
	} else if !slices.Contains(present, level) {
		return ind, fmt.Errorf("level %s: expected one of %s", quote(level), strings.Join(append(present, levelAll), ", "))
	}
	out := ind
	out.Areas = make([]twin.AreaIndicators, 0, len(ind.Areas))
	for _, a := range ind.Areas {
		if levelOf(a) == level {
			out.Areas = append(out.Areas, a)
		}
	}
	return out, nil
}

// indicatorsAt reads the indicators of the level r asks for; on a bad
// level it answers 400 and returns false.
func (a *API) indicatorsAt(w http.ResponseWriter, r *http.Request) (twin.Indicators, bool) {
	ind, err := byLevel(a.reader.Indicators(), r.URL.Query().Get("level"))
	if err != nil {
		writeError(w, http.StatusBadRequest, "level", err.Error())
		return ind, false
	}
	return ind, true
}

// orMunicipality is level, or the municipalities when it is unsaid (a
// Reader or an entity from before levels).
func orMunicipality(level string) string {
	if level == "" {
		return twin.LevelMunicipality
	}
	return level
}

// levelsOf lists the levels the areas of ind are in, coarsest first
// (twin.Levels' order): what the pages' level pickers offer.
func levelsOf(ind twin.Indicators) []string {
	seen := map[string]bool{}
	for _, a := range ind.Areas {
		seen[orMunicipality(a.Level)] = true
	}
	present := []string{}
	for _, l := range twin.Levels() {
		if seen[l] {
			present = append(present, l)
		}
	}
	return present
}

// entityLevel is an area entity's level: its "level" attribute
// (twin's levels.go sets it), else the municipalities.
func entityLevel(e twin.Entity) string {
	l, _ := e.Attrs["level"].Value.(string)
	return orMunicipality(l)
}
