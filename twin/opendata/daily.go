package opendata

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"
)

// DayFile is one daily file, as the index lists it.
type DayFile struct {
	// Day is the file's day, YYYY-MM-DD.
	Day string `json:"day"`
	// URL is the file's public URL.
	URL string `json:"url"`
	// Size is the file's size in bytes.
	Size int64 `json:"size"`
}

// parseDayName returns the day of a daily file's name
// (indicators-YYYY-MM-DD.csv), strictly: exactly that shape, a real date
// written in canonical form. Nothing else is a daily file, so a request
// path can never name another file.
func parseDayName(name string) (string, bool) {
	const prefix, suffix = "indicators-", ".csv"
	if len(name) != len(prefix)+len(time.DateOnly)+len(suffix) || name[:len(prefix)] != prefix || name[len(name)-len(suffix):] != suffix {
		return "", false
	}
	day := name[len(prefix) : len(prefix)+len(time.DateOnly)]
	t, err := time.Parse(time.DateOnly, day)
	if err != nil || t.Format(time.DateOnly) != day {
		return "", false
	}
	return day, true
}

// listDays returns the daily files in dir, oldest first; a missing dir
// has none.
func listDays(dir string) ([]DayFile, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("opendata: list %s: %w", dir, err)
	}
	var out []DayFile
	for _, e := range ents {
		day, ok := parseDayName(e.Name())
		if !ok || !e.Type().IsRegular() {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue // deleted meanwhile
		}
		out = append(out, DayFile{Day: day, Size: info.Size()})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Day < out[j].Day })
	return out, nil
}

// DailyCoverage returns the first and last days of the daily files of
// scope under dir (zero times when there is none), for Coverage.
func DailyCoverage(dir, scope string) (first, last time.Time, err error) {
	days, err := listDays(filepath.Join(dir, scope))
	if err != nil || len(days) == 0 {
		return time.Time{}, time.Time{}, err
	}
	first, _ = time.Parse(time.DateOnly, days[0].Day)
	last, _ = time.Parse(time.DateOnly, days[len(days)-1].Day)
	return first, last, nil
}
