package twin

import (
	"strconv"
	"strings"
	"time"

	"github.com/ponte-city/ponte/wire"
)

// How profile points become FIWARE Smart Data Model attributes, by the
// device profile's category (its entity type is wire.Category.FIWAREType). Points not in the table keep their names and
// values, so nothing a profile reads is hidden from operators.
//
//	category  entity type                  point(s)                   attribute            rule
//	traffic   TrafficFlowObserved          laneN_intensity            intensity            sum over lanes, in vehicles/h (below)
//	                                       laneN_speed                averageVehicleSpeed  mean over lanes, km/h
//	                                       laneN_occupancy            occupancy            mean over lanes, as a ratio 0..1 ("%" / 100)
//	                                       (derived)                  congested            occupancy >= 0.30, or averageVehicleSpeed < 15 km/h while intensity > 0
//	air       AirQualityObserved           no2, o3, pm10, pm25, so2,  same names           as read (ug/m3; co in mg/m3)
//	                                       co
//	                                       humidity                   relativeHumidity     ratio 0..1 ("%" / 100)
//	                                       pressure                   atmosphericPressure  hPa
//	                                       (derived)                  airQualityIndex      EEA band 1..6 of the worst pollutant (eaqi.go)
//	                                       (derived)                  airQualityLevel      its name: good, fair, moderate, poor, very poor, extremely poor
//	noise     NoiseLevelObserved           LAeq, LAFmax, LAF          same names           dB(A) (Milesight decoder names; LAeq feeds noise_laeq_mean)
//	parking   ParkingSpot                  occupied (bool)            occupancy            1 occupied, 0 free
//	                                       (derived)                  status               "occupied" or "free"
//	energy    StreetlightControlCabinet    total_power                power                W
//	                                       import_energy              energy               kWh, the meter's counter
//	weather   WeatherObserved              temperature                temperature          Cel
//	                                       humidity                   relativeHumidity     ratio 0..1
//	                                       pressure                   atmosphericPressure  hPa
//	                                       wind_speed                 windSpeed            m/s
//	                                       wind_direction             windDirection        deg
//	                                       rain_intensity             precipitation        mm/h
//	signal    TrafficSignalController      all                        same names
//
// Traffic intensity: a lane counter reports vehicles per interval. The
// point's unit says which: "1/h" is taken as is, "1/min" is multiplied by
// 60, "1/s" by 3600, and a plain count ("1" or no unit) by 3600 divided by
// the site's interval in seconds. The site's intensity is the sum of its
// lanes' hourly rates.
//
// Congestion thresholds: 30 % loop occupancy is where flow on urban
// arterials typically breaks down (the critical occupancy of the
// fundamental diagram lies between 15 and 30 % on loop detectors), and a
// mean speed under 15 km/h with vehicles passing is queueing traffic.
// Both are constants here, documented in the indicator definitions.
//
// If a site config's entity ID is an NGSI-LD URN (urn:ngsi-ld:Type:id),
// its Type is the entity's type instead of the category's default.

// Congestion thresholds (see above).
const (
	CongestedOccupancy = 0.30 // ratio 0..1
	CongestedSpeed     = 15.0 // km/h
)

// attrRule renames a point and scales its value.
type attrRule struct {
	name    string
	percent bool // "%" values become ratios 0..1
}

// pointRule returns how a point of a category maps to an attribute; ok is
// false when the point keeps its name and value.
func pointRule(category wire.Category, point string) (attrRule, bool) {
	switch category {
	case "air":
		switch point {
		case "humidity":
			return attrRule{name: "relativeHumidity", percent: true}, true
		case "pressure":
			return attrRule{name: "atmosphericPressure"}, true
		}
	case "weather":
		switch point {
		case "humidity":
			return attrRule{name: "relativeHumidity", percent: true}, true
		case "pressure":
			return attrRule{name: "atmosphericPressure"}, true
		case "wind_speed":
			return attrRule{name: "windSpeed"}, true
		case "wind_direction":
			return attrRule{name: "windDirection"}, true
		case "rain_intensity":
			return attrRule{name: "precipitation"}, true
		}
	case "energy":
		switch point {
		case "total_power":
			return attrRule{name: "power"}, true
		case "import_energy":
			return attrRule{name: "energy"}, true
		}
	}
	return attrRule{}, false
}

// renamedPoints are the points pointRule renames, for SourcePoint.
var renamedPoints = []string{"humidity", "pressure", "wind_speed", "wind_direction", "rain_intensity", "total_power", "import_energy"}

// SourcePoint returns the profile point (the InfluxDB field) that an
// attribute of a site of category is read from, when it is one point under
// another name: power from total_power, relativeHumidity from humidity (in
// %), occupancy of a parking spot from occupied. ok is false for
// attributes derived from several points (intensity, congested,
// airQualityIndex) and for points that keep their names.
func SourcePoint(category wire.Category, attr string) (point string, ok bool) {
	if category == "parking" && attr == "occupancy" {
		return "occupied", true
	}
	for _, p := range renamedPoints {
		if r, renamed := pointRule(category, p); renamed && r.name == attr {
			return p, true
		}
	}
	return "", false
}

// lanePoint splits "lane3_speed" into lane "3" and measure "speed".
func lanePoint(point string) (lane, measure string, ok bool) {
	rest, found := strings.CutPrefix(point, "lane")
	if !found {
		return "", "", false
	}
	lane, measure, found = strings.Cut(rest, "_")
	if !found || lane == "" {
		return "", "", false
	}
	if _, err := strconv.Atoi(lane); err != nil {
		return "", "", false
	}
	switch measure {
	case "intensity", "speed", "occupancy":
		return lane, measure, true
	}
	return "", "", false
}

// perHour converts a count per interval to vehicles per hour by its unit.
func perHour(v float64, unit string, interval time.Duration) float64 {
	switch unit {
	case "1/h":
		return v
	case "1/min":
		return v * 60
	case "1/s":
		return v * 3600
	}
	return v * 3600 / interval.Seconds()
}

// point is the latest good reading of one point of a site.
type point struct {
	value wire.Value
	unit  string
	time  time.Time
}

// deriveAttrs computes a site's attributes from its points' latest good
// readings, by its category.
func deriveAttrs(category wire.Category, interval time.Duration, pts map[string]point) map[string]Attr {
	attrs := make(map[string]Attr, len(pts)+2)
	var lanes laneSums
	var band int
	var bandAt time.Time
	for name, p := range pts {
		if category == "traffic" {
			if _, measure, ok := lanePoint(name); ok {
				lanes.add(measure, p, interval)
				continue
			}
		}
		if category == "parking" && name == "occupied" {
			occ, _ := p.value.AsFloat()
			status := "free"
			if occ != 0 {
				occ, status = 1, "occupied"
			}
			attrs["occupancy"] = Attr{Value: occ, Unit: "1", ObservedAt: p.time}
			attrs["status"] = Attr{Value: status, ObservedAt: p.time}
			continue
		}
		if category == "air" {
			if f, ok := p.value.AsFloat(); ok {
				if b, ok := EAQIBand(name, f); ok {
					band = max(band, b)
					if p.time.After(bandAt) {
						bandAt = p.time
					}
				}
			}
		}
		a := Attr{Value: p.value.Any(), Unit: p.unit, ObservedAt: p.time}
		if rule, ok := pointRule(category, name); ok {
			if f, isNum := p.value.AsFloat(); rule.percent && isNum && p.unit == "%" {
				a.Value, a.Unit = f/100, "1"
			}
			name = rule.name
		}
		attrs[name] = a
	}
	if category == "traffic" {
		lanes.attrs(attrs)
	}
	if band > 0 {
		attrs["airQualityIndex"] = Attr{Value: int64(band), Unit: "1", ObservedAt: bandAt}
		attrs["airQualityLevel"] = Attr{Value: EAQILevel(band), ObservedAt: bandAt}
	}
	return attrs
}

// laneSums accumulates the lanes of a traffic counter.
type laneSums struct {
	intensity, speed, occupancy    float64
	nIntensity, nSpeed, nOccupancy int
	at                             time.Time
}

func (l *laneSums) add(measure string, p point, interval time.Duration) {
	f, ok := p.value.AsFloat()
	if !ok {
		return
	}
	if p.time.After(l.at) {
		l.at = p.time
	}
	switch measure {
	case "intensity":
		l.intensity += perHour(f, p.unit, interval)
		l.nIntensity++
	case "speed":
		l.speed += f
		l.nSpeed++
	case "occupancy":
		if p.unit == "%" {
			f /= 100
		}
		l.occupancy += f
		l.nOccupancy++
	}
}

func (l *laneSums) attrs(attrs map[string]Attr) {
	if l.nIntensity > 0 {
		attrs["intensity"] = Attr{Value: l.intensity, Unit: "1/h", ObservedAt: l.at}
	}
	if l.nSpeed > 0 {
		attrs["averageVehicleSpeed"] = Attr{Value: l.speed / float64(l.nSpeed), Unit: "km/h", ObservedAt: l.at}
	}
	if l.nOccupancy > 0 {
		attrs["occupancy"] = Attr{Value: l.occupancy / float64(l.nOccupancy), Unit: "1", ObservedAt: l.at}
	}
	if l.nSpeed > 0 || l.nOccupancy > 0 {
		congested := l.nOccupancy > 0 && l.occupancy/float64(l.nOccupancy) >= CongestedOccupancy
		if l.nSpeed > 0 && l.speed/float64(l.nSpeed) < CongestedSpeed && l.nIntensity > 0 && l.intensity > 0 {
			congested = true
		}
		attrs["congested"] = Attr{Value: congested, ObservedAt: l.at}
	}
}
