package opendata

import "time"

// IDs of the datasets Ponte publishes (the last part of their IRIs and
// of their dct:identifier).
const (
	DatasetIndicators = "indicatori-aree"
	DatasetAreas      = "aree"
	DatasetSites      = "sensori"
	DatasetDaily      = "storico-indicatori-giornaliero"
)

// Coverage is what Datasets needs to know of the data: since when they
// exist and when they last changed.
type Coverage struct {
	// Since is the first day of published data (the oldest daily file,
	// or when publishing began).
	Since time.Time
	// Modified is the newest indicator update; zero: unknown (the
	// catalogue's time stands in).
	Modified time.Time
	// LastDaily is the day of the newest daily file; zero: none yet.
	LastDaily time.Time
}

// Datasets returns the datasets Ponte publishes under cfg's base URL and
// prefix: the indicators per area (CSV and JSON of the public API), the
// areas (GeoJSON), the sensor sites (GeoJSON at cfg.SitesURL, left out
// when that is empty) and the daily files of indicator history (CSV).
func Datasets(cfg CatalogConfig, cov Coverage) []Dataset {
	live := []string{"indicatori urbani", "traffico", "qualità dell'aria", "rumore", "parcheggi"}
	ds := []Dataset{{
		ID:    DatasetIndicators,
		Title: Text{It: "Indicatori urbani per area", En: "Urban indicators per area"},
		Description: Text{
			It: "Valori correnti degli indicatori urbani (traffico, qualità dell'aria, rumore, parcheggi, energia) per comune e quartiere, calcolati dalla rete di sensori Ponte, con il numero di sensori e la finestra temporale di ciascun valore.",
			En: "Current values of the urban indicators (traffic, air quality, noise, parking, energy) per municipality and district, computed from Ponte's sensor network, with the number of sensors and the time window of each value.",
		},
		Themes: []string{"TRAN", "ENVI", "REGI"}, Frequency: "UPDATE_CONT", Keywords: live,
		Start: cov.Since, Modified: cov.Modified,
		Distributions: []Distribution{
			{Format: "CSV", Title: Text{It: "Indicatori (CSV)", En: "Indicators (CSV)"}, AccessURL: cfg.url("/api/v1/indicators.csv"), DownloadURL: cfg.url("/api/v1/indicators.csv")},
			{Format: "JSON", Title: Text{It: "Indicatori con definizioni (JSON)", En: "Indicators with definitions (JSON)"}, AccessURL: cfg.url("/api/v1/indicators")},
		},
	}, {
		ID:    DatasetAreas,
		Title: Text{It: "Aree e confini amministrativi", En: "Areas and administrative boundaries"},
		Description: Text{
			It: "Confini dei comuni e dei quartieri su cui sono calcolati gli indicatori, con il loro livello (città, comune, quartiere).",
			En: "Boundaries of the municipalities and districts the indicators are computed for, with their level (city, municipality, district).",
		},
		Themes: []string{"REGI"}, Frequency: "IRREG", Keywords: []string{"confini", "comuni", "quartieri"},
		Start: cov.Since, Modified: cov.Modified,
		Distributions: []Distribution{
			{Format: "GEOJSON", Title: Text{It: "Aree (GeoJSON)", En: "Areas (GeoJSON)"}, AccessURL: cfg.url("/api/v1/areas.geojson"), DownloadURL: cfg.url("/api/v1/areas.geojson")},
		},
	}}
	if cfg.SitesURL != "" {
		ds = append(ds, Dataset{
			ID:    DatasetSites,
			Title: Text{It: "Sensori urbani", En: "Urban sensor sites"},
			Description: Text{
				It: "Posizione e tipo dei sensori urbani (flussi di traffico, qualità dell'aria, rumore, parcheggi, illuminazione) della rete Ponte.",
				En: "Location and kind of the urban sensors (traffic flow, air quality, noise, parking, street lighting) of the Ponte network.",
			},
			Themes: []string{"TRAN", "ENVI"}, Frequency: "IRREG", Keywords: []string{"sensori"},
			Start: cov.Since, Modified: cov.Modified,
			Distributions: []Distribution{
				{Format: "GEOJSON", Title: Text{It: "Sensori (GeoJSON)", En: "Sensor sites (GeoJSON)"}, AccessURL: cfg.SitesURL, DownloadURL: cfg.SitesURL},
			},
		})
	}
	daily := cov.LastDaily
	if daily.IsZero() {
		daily = cov.Modified
	}
	ds = append(ds, Dataset{
		ID:    DatasetDaily,
		Title: Text{It: "Storico giornaliero degli indicatori urbani per area", En: "Daily history of the urban indicators per area"},
		Description: Text{
			It: "Un file CSV per giorno (ora di Roma) con i valori degli indicatori di ogni area campionati a intervalli regolari: ora UTC, data, area, livello, indicatore, valore, unità, sensori, finestra.",
			En: "One CSV file per day (Rome time) with the indicator values of every area sampled at regular intervals: UTC time, date, area, level, indicator, value, unit, sensors, window.",
		},
		Themes: []string{"TRAN", "ENVI", "REGI"}, Frequency: "DAILY", Keywords: append([]string{"serie storica"}, live...),
		Start: cov.Since, Modified: daily,
		Distributions: []Distribution{
			{Format: "CSV", Title: Text{It: "Indice dei file giornalieri", En: "Index of the daily files"}, AccessURL: cfg.url("/opendata/daily/")},
		},
	})
	return ds
}
