package ngsild

// unitCodes maps the twin's UCUM-style units (as firmware profiles write
// them, and as twin/mapping.go derives them) to UN/CEFACT Recommendation
// 20 common codes, NGSI-LD's unitCode. GQ and GP are as the Smart Data
// Models' AirQualityObserved example uses them
// (testdata/sdm-AirQualityObserved-normalized.jsonld). Units with no code
// here get no unitCode: "1/h", "1/min", "hits/cm2", and "1" — ratios and
// indices (relativeHumidity, occupancy, airQualityIndex), which the
// models' examples give without one.
var unitCodes = map[string]string{
	"ug/m3": "GQ",  // microgram per cubic metre
	"mg/m3": "GP",  // milligram per cubic metre
	"Cel":   "CEL", // degree Celsius
	"hPa":   "A97", // hectopascal
	"m/s":   "MTS", // metre per second
	"km/h":  "KMH", // kilometre per hour
	"deg":   "DD",  // degree (angle)
	"mm":    "MMT", // millimetre
	"mm/h":  "H67", // millimetre per hour
	"W":     "WTT", // watt
	"kW":    "KWT", // kilowatt
	"kWh":   "KWH", // kilowatt hour
	"V":     "VLT", // volt
	"A":     "AMP", // ampere
	"Hz":    "HTZ", // hertz
	"s":     "SEC", // second
	"%":     "P1",  // percent
	"dB":    "2N",  // decibel
	"dB(A)": "2N",  // decibel, A-weighted: the weighting is the attribute's (LAeq)
}

// UnitCode returns the UN/CEFACT code of a twin unit; ok is false when
// the table has none.
func UnitCode(unit string) (code string, ok bool) {
	code, ok = unitCodes[unit]
	return code, ok
}
