package alarms

import (
	"time"

	"github.com/ponte-city/ponte/internal/yamlconf"
)

// The shipped rules, and where their numbers come from.
//
// Air quality: Directive 2008/50/EC of 21 May 2008 on ambient air quality
// and cleaner air for Europe (OJ L 152, 11.6.2008), transposed in Italy by
// D.Lgs. 155/2010:
//
//	Annex XI B  PM10  1 day (calendar day)   50 µg/m³, not more than 35 times a year
//	Annex XI B  NO2   1 hour                200 µg/m³, not more than 18 times a year
//	Annex XI B  PM2.5 calendar year          25 µg/m³ (Annex XIV D, stage 1)
//	Annex XII A NO2   alert threshold       400 µg/m³ over three consecutive hours
//	Annex XII B O3    information threshold 180 µg/m³, 1-hour average
//	Annex XII B O3    alert threshold       240 µg/m³, 1-hour average
//
// Directive (EU) 2024/2881 lowers several of these from 2030 (PM10 daily
// 45, PM2.5 annual 10); a city that wants them sets the thresholds in its
// config.
//
// A limit value is defined over an averaging period (a calendar day, an
// hour, a year), and a live twin only has the readings it has seen since
// ingest started. The rules therefore compare the mean of the readings of
// a rolling window (Window) of the same length, held in memory by the
// engine; right after a restart the window holds fewer readings and the
// mean rests on them. For PM2.5 a year is out of reach: the rule compares
// the last 24 hours' mean with the annual limit, as an indication that
// the day is above what the year may average, not a measured exceedance.
// Each rule's description says this in words.
//
// Noise: DPCM 14 November 1997 "Determinazione dei valori limite delle
// sorgenti sonore", Tabella C (valori limite assoluti di immissione):
// class IV "aree di intensa attività umana" 65 dB(A) by day (06:00-22:00)
// and 55 dB(A) by night, as LAeq over the reference period. Roadside
// meters sit in class IV areas in most Italian acoustic zoning plans. The
// rule compares the energy mean of LAeq over a rolling hour with the
// daytime limit; rules have no time-of-day schedule yet, so the night
// limit is not evaluated (a city adds a rule of its own for it when
// schedules come).
//
// Indicator: the European Air Quality Index of the EEA (eaqi.go in
// package twin): band 5 "very poor" or worse at the worst station of an
// area for 15 minutes.

// Defaults returns the shipped rules, as specs (so a config can override
// their fields).
func Defaults() []RuleSpec {
	f := func(v float64) *float64 { return &v }
	d := func(v time.Duration) *yamlconf.Duration { x := yamlconf.Duration(v); return &x }
	const ugm3 = "µg/m³"
	return []RuleSpec{
		{
			ID: "eu-pm10-daily", Category: "air", Point: "pm10", Above: f(50), Hysteresis: f(5),
			Window: d(24 * time.Hour), MinDuration: d(0), Severity: Major, Unit: ugm3,
			Label: Text{IT: "PM10 oltre il valore limite giornaliero (50 µg/m³)", EN: "PM10 above the daily limit value (50 µg/m³)"},
			Description: Text{
				IT: "Valore limite giornaliero per la protezione della salute umana, Direttiva 2008/50/CE allegato XI (D.Lgs. 155/2010): 50 µg/m³, da non superare più di 35 volte per anno civile. Confrontato con la media mobile delle letture delle ultime 24 ore (non la media del giorno civile): dopo un riavvio la media si basa sulle letture disponibili. Rientra sotto 45 µg/m³.",
				EN: "Daily limit value for the protection of human health, Directive 2008/50/EC Annex XI: 50 µg/m³, not to be exceeded more than 35 times a calendar year. Compared with the rolling mean of the readings of the last 24 hours (not the calendar-day mean): after a restart the mean rests on the readings available. Clears below 45 µg/m³.",
			},
		},
		{
			ID: "eu-no2-hourly", Category: "air", Point: "no2", Above: f(200), Hysteresis: f(10),
			Window: d(time.Hour), MinDuration: d(0), Severity: Major, Unit: ugm3,
			Label: Text{IT: "NO2 oltre il valore limite orario (200 µg/m³)", EN: "NO2 above the hourly limit value (200 µg/m³)"},
			Description: Text{
				IT: "Valore limite orario, Direttiva 2008/50/CE allegato XI: 200 µg/m³, da non superare più di 18 volte per anno civile. Confrontato con la media mobile dell'ultima ora. Rientra sotto 190 µg/m³.",
				EN: "Hourly limit value, Directive 2008/50/EC Annex XI: 200 µg/m³, not to be exceeded more than 18 times a calendar year. Compared with the rolling mean of the last hour. Clears below 190 µg/m³.",
			},
		},
		{
			ID: "eu-no2-alert", Category: "air", Point: "no2", Above: f(400), Hysteresis: f(20),
			Window: d(time.Hour), MinDuration: d(3 * time.Hour), Severity: Critical, Unit: ugm3,
			Label: Text{IT: "NO2 oltre la soglia di allarme (400 µg/m³ per 3 ore)", EN: "NO2 above the alert threshold (400 µg/m³ for 3 hours)"},
			Description: Text{
				IT: "Soglia di allarme, Direttiva 2008/50/CE allegato XII A: 400 µg/m³ misurati su tre ore consecutive. Media mobile oraria oltre la soglia per tre ore di seguito.",
				EN: "Alert threshold, Directive 2008/50/EC Annex XII A: 400 µg/m³ measured over three consecutive hours. The rolling hourly mean above it for three hours in a row.",
			},
		},
		{
			ID: "eu-o3-information", Category: "air", Point: "o3", Above: f(180), Hysteresis: f(10),
			Window: d(time.Hour), MinDuration: d(0), Severity: Minor, Unit: ugm3,
			Label: Text{IT: "O3 oltre la soglia di informazione (180 µg/m³)", EN: "O3 above the information threshold (180 µg/m³)"},
			Description: Text{
				IT: "Soglia di informazione dell'ozono, Direttiva 2008/50/CE allegato XII B: 180 µg/m³ come media di un'ora. Confrontata con la media mobile dell'ultima ora. Rientra sotto 170 µg/m³.",
				EN: "Ozone information threshold, Directive 2008/50/EC Annex XII B: 180 µg/m³ as a 1-hour average. Compared with the rolling mean of the last hour. Clears below 170 µg/m³.",
			},
		},
		{
			ID: "eu-o3-alert", Category: "air", Point: "o3", Above: f(240), Hysteresis: f(10),
			Window: d(time.Hour), MinDuration: d(0), Severity: Critical, Unit: ugm3,
			Label: Text{IT: "O3 oltre la soglia di allarme (240 µg/m³)", EN: "O3 above the alert threshold (240 µg/m³)"},
			Description: Text{
				IT: "Soglia di allarme dell'ozono, Direttiva 2008/50/CE allegato XII B: 240 µg/m³ come media di un'ora. Confrontata con la media mobile dell'ultima ora.",
				EN: "Ozone alert threshold, Directive 2008/50/EC Annex XII B: 240 µg/m³ as a 1-hour average. Compared with the rolling mean of the last hour.",
			},
		},
		{
			ID: "eu-pm25-annual", Category: "air", Point: "pm25", Above: f(25), Hysteresis: f(3),
			Window: d(24 * time.Hour), MinDuration: d(0), Severity: Warning, Unit: ugm3,
			Label: Text{IT: "PM2.5 oltre il valore limite annuale (25 µg/m³) nelle ultime 24 ore", EN: "PM2.5 above the annual limit value (25 µg/m³) over the last 24 hours"},
			Description: Text{
				IT: "Valore limite annuale, Direttiva 2008/50/CE allegato XIV: 25 µg/m³ come media dell'anno civile. Il gemello non conserva un anno di letture: confronta la media mobile delle ultime 24 ore con il limite annuale, come indicazione e non come superamento misurato. Rientra sotto 22 µg/m³.",
				EN: "Annual limit value, Directive 2008/50/EC Annex XIV: 25 µg/m³ as a calendar-year mean. The twin does not hold a year of readings: it compares the rolling mean of the last 24 hours with the annual limit, as an indication, not a measured exceedance. Clears below 22 µg/m³.",
			},
		},
		{
			ID: "noise-class-iv-day", Category: "noise", Point: "LAeq", Above: f(65), Hysteresis: f(2),
			Window: d(time.Hour), Mean: Energy, MinDuration: d(0), Severity: Warning, Unit: "dB(A)",
			Label: Text{IT: "Rumore oltre il limite diurno di classe IV (65 dB(A))", EN: "Noise above the class IV daytime limit (65 dB(A))"},
			Description: Text{
				IT: "Valore limite assoluto di immissione, DPCM 14/11/1997 tabella C, classe IV (aree di intensa attività umana), periodo diurno 06-22: 65 dB(A). Confrontato con la media energetica del LAeq dell'ultima ora, a ogni ora del giorno (il limite notturno di 55 dB(A) non è valutato). Rientra sotto 63 dB(A).",
				EN: "Absolute immission limit, DPCM 14/11/1997 Table C, class IV (areas of intense human activity), daytime 06-22: 65 dB(A). Compared with the energy mean of LAeq over the last hour, at every hour of the day (the night limit of 55 dB(A) is not evaluated). Clears below 63 dB(A).",
			},
		},
		{
			ID: "eaqi-very-poor", Indicator: "air_quality_band_worst", Above: f(4), Hysteresis: f(0),
			MinDuration: d(15 * time.Minute), Severity: Major,
			Label: Text{IT: "Qualità dell'aria molto scadente nell'area", EN: "Very poor air quality in the area"},
			Description: Text{
				IT: "Indice europeo di qualità dell'aria (AEA): la stazione peggiore dell'area in fascia 5 (molto scadente) o 6 per 15 minuti. Rientra quando torna alla fascia 4 o migliore per 15 minuti.",
				EN: "European Air Quality Index (EEA): the area's worst station in band 5 (very poor) or 6 for 15 minutes. Clears when back to band 4 or better for 15 minutes.",
			},
		},
	}
}
