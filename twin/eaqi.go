package twin

// European Air Quality Index (EAQI) of the European Environment Agency.
//
// The bands and their upper limits in ug/m3, for hourly concentrations, are
// those of the EEA's European Air Quality Index as published from 2017 to
// 2023 ("European Air Quality Index", EEA, airindex.eea.europa.eu, table
// "Pollutant concentrations (ug/m3) and index bands"):
//
//	band            PM2.5   PM10    NO2     O3      SO2
//	1 good          0-10    0-20    0-40    0-50    0-100
//	2 fair          10-20   20-40   40-90   50-100  100-200
//	3 moderate      20-25   40-50   90-120  100-130 200-350
//	4 poor          25-50   50-100  120-230 130-240 350-500
//	5 very poor     50-75   100-150 230-340 240-380 500-750
//	6 extremely poor  above the very poor limits
//
// A value on a limit belongs to the lower band (NO2 exactly 40 is good).
// The index of a station is its worst pollutant's band. The EEA revised the
// thresholds in 2024 to follow the WHO 2021 guidelines; switching means
// replacing this table and saying so in the indicator definitions.

// Air-quality band names, index 1..6.
var eaqiLevels = [...]string{1: "good", 2: "fair", 3: "moderate", 4: "poor", 5: "very poor", 6: "extremely poor"}

// eaqiLimits returns the upper limits of bands 1..5 for a pollutant
// attribute name, or nil when the pollutant is not part of the index.
func eaqiLimits(pollutant string) []float64 {
	switch pollutant {
	case "pm25":
		return []float64{10, 20, 25, 50, 75}
	case "pm10":
		return []float64{20, 40, 50, 100, 150}
	case "no2":
		return []float64{40, 90, 120, 230, 340}
	case "o3":
		return []float64{50, 100, 130, 240, 380}
	case "so2":
		return []float64{100, 200, 350, 500, 750}
	}
	return nil
}

// EAQIBand returns the EEA index band (1 good .. 6 extremely poor) of an
// hourly concentration in ug/m3 of pollutant (pm25, pm10, no2, o3, so2);
// ok is false for other pollutants and for negative or non-finite values.
func EAQIBand(pollutant string, ugm3 float64) (band int, ok bool) {
	limits := eaqiLimits(pollutant)
	if limits == nil || !(ugm3 >= 0) || ugm3 > 1e300 {
		return 0, false
	}
	for i, lim := range limits {
		if ugm3 <= lim {
			return i + 1, true
		}
	}
	return 6, true
}

// EAQILevel returns the name of a band ("good" .. "extremely poor"), or ""
// outside 1..6.
func EAQILevel(band int) string {
	if band < 1 || band > 6 {
		return ""
	}
	return eaqiLevels[band]
}
