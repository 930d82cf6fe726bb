package ctl

import (
	"fmt"

	"github.com/ponte-city/ponte/edge/transport"
	"github.com/ponte-city/ponte/internal/profile"
)

// validateProfiles loads every file and prints every problem; the status
// is ExitFail if any file has one.
func validateProfiles(env Env, files []string) int {
	if len(files) == 0 {
		fmt.Fprintln(env.Stderr, "ponte-ctl profile validate: expected one or more profile files")
		return ExitUsage
	}
	bad := 0
	for _, f := range files {
		p, err := profile.Load(f)
		if err != nil {
			bad++
			for _, l := range errorLines(err) {
				fmt.Fprintln(env.Stderr, l)
			}
			continue
		}
		fmt.Fprintf(env.Stdout, "%s: ok (%s %s, %s, %d points)\n", f, p.Manufacturer, p.Model, p.Kind, pointCount(p))
	}
	if bad > 0 {
		fmt.Fprintf(env.Stderr, "%d of %d profiles have errors\n", bad, len(files))
		return ExitFail
	}
	return ExitOK
}

// pointCount is the number of points p defines (0 for a kind without a
// transport, which profile.Load refuses anyway).
func pointCount(p *profile.Profile) int {
	t, err := transport.For(p.Kind)
	if err != nil {
		return 0
	}
	return t.Points(p)
}
