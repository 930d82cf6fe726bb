package twin

import (
	"math"
	"strings"
	"time"

	"github.com/ponte-city/ponte/wire"
)

// Indicator names.
const (
	IndTrafficIntensity = "traffic_intensity"
	IndCongestionShare  = "congestion_share"
	IndAirBandWorst     = "air_quality_band_worst"
	IndAirBandMean      = "air_quality_band_mean"
	IndNoiseLAeqMean    = "noise_laeq_mean"
	IndParkingOccupancy = "parking_occupancy"
	IndLightingPower    = "lighting_power"
	IndLightingEnergy   = "lighting_energy"
)

// Indicators are computed incrementally: each site holds its contribution
// (contrib) to the aggregate of its area and of the city; when a reading
// or a freshness change alters the contribution, the old one is taken out
// of both aggregates and the new one put in, so a request never scans the
// sites. Tick rebuilds the aggregates from the contributions to cancel
// floating-point drift. Only fresh sensors contribute: a stale or offline
// sensor's last value says nothing about now, and an indicator resting on
// it would look current when it is not.

// contrib is one site's contribution to the indicators; the zero value
// contributes nothing.
type contrib struct {
	traffic, congestionKnown, congested bool
	intensity                           float64
	airBand                             int // 0: none
	noise                               bool
	noiseEnergy                         float64 // 10^(LAeq/10)
	parking                             bool
	occupied                            float64 // 0 or 1
	lighting                            bool
	power                               float64
	energyKnown                         bool
	energy                              float64 // kWh within the window
}

// agg is the sum of the contributions of a set of sites.
type agg struct {
	traffic, congestionN, congested int
	intensity                       float64
	airN, airBandSum                int
	airBands                        [7]int // count per band 1..6
	noiseN                          int
	noiseEnergy                     float64
	parkingN                        int
	occupied                        float64
	lightingN                       int
	power                           float64
	energyN                         int
	energy                          float64
	updated                         time.Time
}

// add adds c to a (sign +1) or takes it out (sign -1).
func (a *agg) add(c contrib, sign int) {
	s := float64(sign)
	if c.traffic {
		a.traffic += sign
		a.intensity += s * c.intensity
	}
	if c.congestionKnown {
		a.congestionN += sign
		if c.congested {
			a.congested += sign
		}
	}
	if c.airBand > 0 {
		a.airN += sign
		a.airBandSum += sign * c.airBand
		a.airBands[c.airBand] += sign
	}
	if c.noise {
		a.noiseN += sign
		a.noiseEnergy += s * c.noiseEnergy
	}
	if c.parking {
		a.parkingN += sign
		a.occupied += s * c.occupied
	}
	if c.lighting {
		a.lightingN += sign
		a.power += s * c.power
	}
	if c.energyKnown {
		a.energyN += sign
		a.energy += s * c.energy
	}
}

// definitions of the indicators, in output order: the English text (def,
// also Indicator.Definition) and the Italian one (it) beside it, with the
// labels the public page shows (definitions.go).
var indicatorDefs = [...]struct{ name, unit, window, def, labelEN, labelIT, it string }{
	{IndTrafficIntensity, "1/h", "latest", "Sum of the intensity (vehicles per hour, all lanes) last reported by each fresh traffic counter (TrafficFlowObserved) in the area.",
		"Traffic intensity", "Intensità del traffico",
		"Somma dell'intensità (veicoli all'ora, tutte le corsie) riportata per ultima da ciascun contatore di traffico aggiornato (TrafficFlowObserved) nell'area."},
	{IndCongestionShare, "1", "latest", "Share (0..1) of fresh traffic counters reporting congestion: mean lane occupancy at least 30 %, or mean speed under 15 km/h while vehicles pass.",
		"Congested counters", "Contatori in congestione",
		"Quota (0..1) dei contatori di traffico aggiornati che segnalano congestione: occupazione media delle corsie almeno del 30 %, o velocità media sotto i 15 km/h mentre passano veicoli."},
	{IndAirBandWorst, "1", "latest", "Worst European Air Quality Index band (EEA 2017-2023 hourly thresholds; 1 good, 2 fair, 3 moderate, 4 poor, 5 very poor, 6 extremely poor) among fresh air-quality stations; a station's band is its worst pollutant's (NO2, O3, PM10, PM2.5, SO2).",
		"Air quality (worst station)", "Qualità dell'aria (stazione peggiore)",
		"Classe peggiore dell'Indice europeo di qualità dell'aria (soglie orarie AEA 2017-2023; 1 buona, 2 discreta, 3 moderata, 4 scadente, 5 molto scadente, 6 estremamente scadente) tra le stazioni di qualità dell'aria aggiornate; la classe di una stazione è quella del suo inquinante peggiore (NO2, O3, PM10, PM2,5, SO2)."},
	{IndAirBandMean, "1", "latest", "Arithmetic mean of the European Air Quality Index bands (1..6) of the fresh air-quality stations.",
		"Air quality (mean)", "Qualità dell'aria (media)",
		"Media aritmetica delle classi dell'Indice europeo di qualità dell'aria (1..6) delle stazioni di qualità dell'aria aggiornate."},
	{IndNoiseLAeqMean, "dB", "latest", "Energy mean of the latest LAeq of the fresh sound level meters: 10*log10(mean(10^(LAeq/10))).",
		"Noise (LAeq)", "Rumore (LAeq)",
		"Media energetica dell'ultimo LAeq dei fonometri aggiornati: 10*log10(media(10^(LAeq/10)))."},
	{IndParkingOccupancy, "1", "latest", "Share (0..1) of the fresh parking bay sensors reporting their bay occupied.",
		"Parking occupancy", "Occupazione dei parcheggi",
		"Quota (0..1) dei sensori di stallo di sosta aggiornati che segnalano lo stallo occupato."},
	{IndLightingPower, "W", "latest", "Sum of the total active power last reported by each fresh street-lighting cabinet meter.",
		"Street-lighting power", "Potenza dell'illuminazione pubblica",
		"Somma della potenza attiva totale riportata per ultima da ciascun contatore aggiornato dei quadri dell'illuminazione pubblica."},
	{IndLightingEnergy, "kWh", "window", "Active energy imported by the fresh street-lighting cabinet meters over the window: per meter, the sum of the increases of its import counter between consecutive readings within the window ending at its latest reading (a counter that goes backwards, e.g. after a meter replacement, adds nothing for that step).",
		"Street-lighting energy", "Energia dell'illuminazione pubblica",
		"Energia attiva prelevata dai contatori aggiornati dei quadri dell'illuminazione pubblica nella finestra: per contatore, la somma degli aumenti del suo totalizzatore tra letture consecutive entro la finestra che termina con la sua ultima lettura (un totalizzatore che torna indietro, ad esempio dopo la sostituzione del contatore, non aggiunge nulla per quel passo)."},
}

// indicators renders an aggregate as indicators.
func (a *agg) indicators(window string) []Indicator {
	out := make([]Indicator, len(indicatorDefs))
	for i, d := range indicatorDefs {
		w := d.window
		if w == "window" {
			w = window
		}
		ind := Indicator{Name: d.name, Unit: d.unit, Window: w, Definition: d.def, UpdatedAt: a.updated}
		var v float64
		switch d.name {
		case IndTrafficIntensity:
			ind.Sensors, v = a.traffic, a.intensity
		case IndCongestionShare:
			ind.Sensors = a.congestionN
			v = ratio(a.congested, a.congestionN)
		case IndAirBandWorst:
			ind.Sensors = a.airN
			for b := 6; b >= 1; b-- {
				if a.airBands[b] > 0 {
					v = float64(b)
					break
				}
			}
		case IndAirBandMean:
			ind.Sensors = a.airN
			v = ratio(a.airBandSum, a.airN)
		case IndNoiseLAeqMean:
			ind.Sensors = a.noiseN
			if a.noiseN > 0 && a.noiseEnergy > 0 {
				v = 10 * math.Log10(a.noiseEnergy/float64(a.noiseN))
			}
		case IndParkingOccupancy:
			ind.Sensors = a.parkingN
			if a.parkingN > 0 {
				v = a.occupied / float64(a.parkingN)
			}
		case IndLightingPower:
			ind.Sensors, v = a.lightingN, a.power
		case IndLightingEnergy:
			ind.Sensors, v = a.energyN, a.energy
		}
		if ind.Sensors > 0 {
			v = round(v, 6)
			ind.Value = &v
		}
		out[i] = ind
	}
	return out
}

func ratio(n, d int) float64 {
	if d == 0 {
		return 0
	}
	return float64(n) / float64(d)
}

// round rounds to digits decimals, hiding the drift of incremental sums.
func round(v float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	r := math.Round(v*p) / p
	if math.IsInf(r, 0) || math.IsNaN(r) {
		return v
	}
	return r
}

// contribOf computes a site's contribution from its attributes; only
// fresh sites contribute.
func contribOf(category wire.Category, fresh bool, attrs map[string]Attr, energy float64, energyKnown bool) contrib {
	var c contrib
	if !fresh {
		return c
	}
	num := func(name string) (float64, bool) {
		a, ok := attrs[name]
		if !ok {
			return 0, false
		}
		return ToFloat(a.Value)
	}
	switch category {
	case "traffic":
		if v, ok := num("intensity"); ok {
			c.traffic, c.intensity = true, v
		}
		if a, ok := attrs["congested"]; ok {
			b, _ := a.Value.(bool)
			c.congestionKnown, c.congested = true, b
		}
	case "air":
		if v, ok := num("airQualityIndex"); ok && v >= 1 && v <= 6 {
			c.airBand = int(v)
		}
	case "noise":
		if v, ok := num("LAeq"); ok {
			c.noise, c.noiseEnergy = true, math.Pow(10, v/10)
		}
	case "parking":
		if v, ok := num("occupancy"); ok {
			c.parking, c.occupied = true, v
		}
	case "energy":
		if v, ok := num("power"); ok {
			c.lighting, c.power = true, v
		}
		c.energyKnown, c.energy = energyKnown, energy
	}
	return c
}

// ToFloat converts an attribute value to float64: numbers as they are
// (not NaN or an infinity), booleans as 1 and 0.
func ToFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, !math.IsNaN(x) && !math.IsInf(x, 0)
	case int64:
		return float64(x), true
	case bool:
		if x {
			return 1, true
		}
		return 0, true
	}
	return 0, false
}

// formatWindow prints a duration without trailing zero units: 15m, 1h, 1h30m.
func formatWindow(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// energyWindow keeps the recent samples of a meter's energy counter.
type energyWindow struct {
	samples []energySample
}

type energySample struct {
	t time.Time
	v float64
}

// maxEnergySamples bounds one meter's window (a 1 s meter over 15 min).
const maxEnergySamples = 4096

// add records a counter reading and drops samples older than window
// before the newest.
func (w *energyWindow) add(t time.Time, v float64, window time.Duration) {
	n := len(w.samples)
	switch {
	case n == 0 || t.After(w.samples[n-1].t):
		w.samples = append(w.samples, energySample{t, v})
	case t.Equal(w.samples[n-1].t):
		w.samples[n-1].v = v
	default:
		return // older than the newest: the counter's past is settled
	}
	newest := w.samples[len(w.samples)-1].t
	drop := 0
	for drop < len(w.samples)-1 && (newest.Sub(w.samples[drop].t) > window || len(w.samples)-drop > maxEnergySamples) {
		drop++
	}
	if drop > 0 {
		w.samples = append(w.samples[:0], w.samples[drop:]...)
	}
}

// total is the sum of the counter's increases in the window; ok is false
// with fewer than two samples.
func (w *energyWindow) total() (kwh float64, ok bool) {
	if len(w.samples) < 2 {
		return 0, false
	}
	for i := 1; i < len(w.samples); i++ {
		if d := w.samples[i].v - w.samples[i-1].v; d > 0 {
			kwh += d
		}
	}
	return kwh, true
}
