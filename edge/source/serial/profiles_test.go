package serial

import (
	"github.com/ponte-city/ponte/internal/profile"
	"github.com/ponte-city/ponte/internal/yamlconf"
)

// Test profiles, built in Go so the package's tests do not depend on the
// profile loader. They mirror firmware-profiles/ and the fixtures in
// testdata/.

func col(i int) *int         { return &i }
func f64(v float64) *float64 { return &v }

// weatherProfile is a weather station sending NMEA 0183 MDA and MWV
// sentences, framed by "\r\n", with the '$' kept in the frame.
func weatherProfile() *profile.Profile {
	return &profile.Profile{Model: "test weather", Kind: profile.KindSerial, Serial: &profile.Serial{
		Baud:     4800,
		Framing:  profile.Framing{Terminator: "\r\n", MaxLength: 90},
		Checksum: profile.Checksum{Kind: profile.ChecksumNMEAXOR},
		Records: []profile.Record{
			{
				Name:    "mda",
				Match:   `^\$WIMDA,`,
				Regex:   `^\$WIMDA,[^,]*,I,(?P<press>[^,]*),B,(?P<temp>[^,]*),C,[^,]*,[^,]*,(?P<rh>[^,]*),[^,]*,(?P<dew>[^,]*),C,(?P<dir>[^,]*),T,[^,]*,M,[^,]*,N,(?P<speed>[^,]*),M$`,
				Example: "$WIMDA,29.9139,I,1.0130,B,14.6,C,,,71.3,,9.4,C,284.0,T,,M,6.6,N,3.4,M*7F",
				Fields: []profile.Field{
					{Name: "pressure", Group: "press", Type: profile.TypeFloat, Scaling: profile.Scaling{Scale: 1000}, Unit: "hPa", Range: profile.Range{Min: f64(600), Max: f64(1100)}},
					{Name: "temperature", Group: "temp", Type: profile.TypeFloat, Unit: "Cel", Range: profile.Range{Min: f64(-52), Max: f64(60)}},
					{Name: "humidity", Group: "rh", Type: profile.TypeFloat, Unit: "%", Range: profile.Range{Min: f64(0), Max: f64(100)}},
					{Name: "dew_point", Group: "dew", Type: profile.TypeFloat, Unit: "Cel"},
					{Name: "wind_direction", Group: "dir", Type: profile.TypeFloat, Unit: "deg", Range: profile.Range{Min: f64(0), Max: f64(360)}},
					{Name: "wind_speed", Group: "speed", Type: profile.TypeFloat, Unit: "m/s"},
				},
			},
			{
				Name:    "mwv",
				Match:   `^\$WIMWV,`,
				Regex:   `^\$WIMWV,(?P<dir>[0-9.]+),R,(?P<speed>[0-9.]+),M,(?P<status>[AV])$`,
				Example: "$WIMWV,284,R,3.4,M,A*37",
				Fields: []profile.Field{
					{Name: "wind_direction_raw", Group: "dir", Type: profile.TypeInt, Unit: "deg"},
					{Name: "wind_speed_raw", Group: "speed", Type: profile.TypeFloat, Unit: "m/s"},
					{Name: "wind_status", Group: "status", Type: profile.TypeString},
				},
			},
		},
	}}
}

// intervalProfile is the loop counter of firmware-profiles: polled with
// "R\r\n", one sum8-checked CSV record per lane.
func intervalProfile() *profile.Profile {
	return &profile.Profile{Model: "test loop counter", Kind: profile.KindSerial, Serial: &profile.Serial{
		Baud:     9600,
		Framing:  profile.Framing{Terminator: "\r\n", MaxLength: 128},
		Mode:     profile.ModeRequestResponse,
		Request:  &profile.Request{Command: "R\r\n", Timeout: yamlconf.Duration(400e6)},
		Checksum: profile.Checksum{Kind: profile.ChecksumSum8},
		Records: []profile.Record{{
			Name:    "interval",
			Match:   `^I,`,
			Regex:   `^I,(?P<period>[0-9]{3}),(?P<lane>[0-9]{1,2}),(?P<count>[0-9]+),(?P<speed>[0-9.]+),(?P<occ>[0-9.]+),$`,
			Example: "I,060,1,17,52.4,11.3,0C",
			Fields: []profile.Field{
				{Name: "lane{lane}_intensity", Group: "count", Type: profile.TypeInt, Unit: "1/min"},
				{Name: "lane{lane}_speed", Group: "speed", Type: profile.TypeFloat, Unit: "km/h", Range: profile.Range{Min: f64(0), Max: f64(250)}},
				{Name: "lane{lane}_occupancy", Group: "occ", Type: profile.TypeFloat, Unit: "%", Range: profile.Range{Min: f64(0), Max: f64(100)}},
			},
		}},
	}}
}

// vehicleProfile is a traffic counter that prints one ';'-separated line
// per vehicle, on its own.
func vehicleProfile() *profile.Profile {
	return &profile.Profile{Model: "test vehicle counter", Kind: profile.KindSerial, Serial: &profile.Serial{
		Framing: profile.Framing{Terminator: "\n"},
		Records: []profile.Record{{
			Name:      "vehicle",
			Match:     `^V;`,
			Delimiter: ";",
			Example:   "V;2024-05-14T08:15:02.310;1;54.3;4.6;CAR",
			Fields: []profile.Field{
				{Name: "vehicle_lane", Column: col(2), Type: profile.TypeInt},
				{Name: "vehicle_speed", Column: col(3), Type: profile.TypeFloat, Unit: "km/h", Range: profile.Range{Min: f64(0), Max: f64(250)}},
				{Name: "vehicle_length", Column: col(4), Type: profile.TypeFloat, Unit: "m"},
				{Name: "vehicle_class", Column: col(5), Type: profile.TypeString},
			},
		}},
	}}
}

// airProfile is an air-quality station printing key=value lines; its
// record has no match expression and is selected by its regex.
func airProfile() *profile.Profile {
	return &profile.Profile{Model: "test air station", Kind: profile.KindSerial, Serial: &profile.Serial{
		Framing: profile.Framing{Terminator: "\r\n"},
		Records: []profile.Record{{
			Name:    "minute",
			Regex:   `^AQ (?P<date>\S+) (?P<time>\S+) NO2=(?P<no2>\S+) O3=(?P<o3>\S+) PM10=(?P<pm10>\S+) PM25=(?P<pm25>\S+) FLT=(?P<flt>\S+)$`,
			Example: "AQ 2024-05-14 08:15 NO2=34.2 O3=61.0 PM10=22 PM25=13 FLT=0",
			Fields: []profile.Field{
				{Name: "no2", Group: "no2", Type: profile.TypeFloat, Unit: "ug/m3", Range: profile.Range{Min: f64(0), Max: f64(2000)}},
				{Name: "o3", Group: "o3", Type: profile.TypeFloat, Unit: "ug/m3", Range: profile.Range{Min: f64(0), Max: f64(1000)}},
				{Name: "pm10", Group: "pm10", Type: profile.TypeInt, Unit: "ug/m3"},
				{Name: "pm25", Group: "pm25", Type: profile.TypeInt, Unit: "ug/m3"},
				{Name: "sensor_fault", Group: "flt", Type: profile.TypeBool},
			},
		}},
	}}
}
