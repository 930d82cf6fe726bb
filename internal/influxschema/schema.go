package influxschema

import "github.com/ponte-city/ponte/wire"

// DefaultMeasurement is the measurement of readings whose device has no
// known category, unless ingest's configuration names another.
const DefaultMeasurement = "ponte"

// Tag keys. A series is identified by its measurement, TagGateway and
// TagDevice; TagArea and TagType describe the device and are written when
// known.
const (
	TagArea    = "area"
	TagDevice  = "device"
	TagGateway = "gateway"
	TagType    = "type"
)

// QualitySuffix is appended to a point name to make the string field that
// holds a bad reading's quality and reason (see QualityField).
const QualitySuffix = "_quality"

// Measurement returns the measurement of a reading whose device has
// category c: the category itself, or fallback when c is empty
// (DefaultMeasurement when fallback is empty too).
func Measurement(c wire.Category, fallback string) string {
	switch {
	case c != "":
		return string(c)
	case fallback != "":
		return fallback
	}
	return DefaultMeasurement
}

// ValueField returns the field key that holds the value of point.
func ValueField(point string) string { return point }

// QualityField returns the field key that holds the quality and reason of
// a bad reading of point, written instead of its value.
func QualityField(point string) string { return point + QualitySuffix }
