package twin

// IntensityPerHour returns the factor that turns a traffic site's lane
// counts, as its profile reports and InfluxDB stores them (per its
// laneN_intensity points' unit and the site's interval), into vehicles
// per hour, as the site's intensity attribute is (mapping.go). ok is
// false for an entity that is not such a site, or has reported no lane
// intensity since ingest started (the unit comes with the readings).
// The HTTP API uses it to chart a site's intensity, summed over lanes,
// from the lanes' series.
func (t *Twin) IntensityPerHour(id string) (factor float64, ok bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	n := t.byID[id]
	if n == nil || n.site == nil || n.site.Category != "traffic" {
		return 0, false
	}
	for name, p := range n.points {
		if _, measure, isLane := lanePoint(name); isLane && measure == "intensity" {
			return perHour(1, p.unit, n.site.Interval), true
		}
	}
	return 0, false
}
