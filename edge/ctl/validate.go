package ctl

import (
	"fmt"

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

func pointCount(p *profile.Profile) int {
	switch p.Kind {
	case profile.KindModbus:
		return len(p.Modbus.Points)
	case profile.KindSerial:
		n := 0
		for _, r := range p.Serial.Records {
			n += len(r.Fields)
		}
		return n
	case profile.KindMQTT:
		return len(p.MQTT.Fields)
	}
	return 0
}
