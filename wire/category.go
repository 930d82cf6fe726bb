package wire

// Category is the kind of urban measurement a device provides, as its
// firmware profile declares it. It names the InfluxDB measurement ingest
// writes the device's readings to and, through FIWAREType, the type of the
// device's entity in the twin.
type Category string

// The categories.
const (
	CategoryEnergy  Category = "energy"  // street-lighting cabinets, meters
	CategoryAir     Category = "air"     // air-quality stations
	CategoryWeather Category = "weather" // weather stations
	CategoryTraffic Category = "traffic" // loop, radar and camera counters
	CategoryParking Category = "parking" // parking bay sensors
	CategoryNoise   Category = "noise"   // sound level meters
	CategorySignal  Category = "signal"  // traffic-signal controllers
)

// categories is every category with its FIWARE Smart Data Model type: the
// one table of both.
var categories = []struct {
	c   Category
	typ string
}{
	{CategoryEnergy, "StreetlightControlCabinet"},
	{CategoryAir, "AirQualityObserved"},
	{CategoryWeather, "WeatherObserved"},
	{CategoryTraffic, "TrafficFlowObserved"},
	{CategoryParking, "ParkingSpot"},
	{CategoryNoise, "NoiseLevelObserved"},
	{CategorySignal, "TrafficSignalController"},
}

// Categories returns the valid categories, in a fixed order.
func Categories() []Category {
	out := make([]Category, len(categories))
	for i, e := range categories {
		out[i] = e.c
	}
	return out
}

// Valid reports whether c is one of Categories.
func (c Category) Valid() bool {
	for _, e := range categories {
		if e.c == c {
			return true
		}
	}
	return false
}

// FIWAREType is the FIWARE Smart Data Model type of a device of category
// c (TrafficFlowObserved for traffic, ...), "Device" for a category it
// does not know.
func (c Category) FIWAREType() string {
	for _, e := range categories {
		if e.c == c {
			return e.typ
		}
	}
	return "Device"
}
