package profile

// MQTT formats with ready-made defaults.
const (
	// FormatJSON is a plain JSON object per message; Topic, DeviceID and the
	// field paths are all given by the profile.
	FormatJSON = "json"
	// FormatChirpStackV4 is ChirpStack v4's uplink event
	// (application/{application_id}/device/{dev_eui}/event/up): the
	// codec's decoded object is under "object", the device under
	// "deviceInfo", the time in "time".
	FormatChirpStackV4 = "chirpstack_v4"
	// FormatTTSV3 is The Things Stack v3's uplink message
	// (v3/{application id}@{tenant}/devices/{device id}/up): the decoded
	// payload is under "uplink_message.decoded_payload", the time in
	// "received_at".
	FormatTTSV3 = "tts_v3"
)

// MQTT maps the JSON payloads a device (or a LoRaWAN network server on its
// behalf) publishes into points.
type MQTT struct {
	// Format picks defaults for Topic, DeviceID, Time and Root (default json).
	Format string `yaml:"format"`
	// Topic is the subscription filter (MQTT wildcards + and #).
	Topic string `yaml:"topic"`
	// DeviceID is the gjson path to the device's identity in the payload
	// (DevEUI for LoRaWAN), matched against the device instance's
	// identifier in the site config; empty means one device per topic.
	DeviceID string `yaml:"device_id"`
	// Time is the gjson path to the acquisition time (RFC 3339); empty or
	// absent means the gateway's receipt time.
	Time string `yaml:"time"`
	// Root is a gjson path prefixed to every field path.
	Root string `yaml:"root"`
	// Fields are the points in the payload.
	Fields []Field `yaml:"fields"`
	// Downlinks are the points a command may write, as LoRaWAN downlinks
	// through the network server the uplinks come from (formats
	// chirpstack_v4 and tts_v3).
	Downlinks []Downlink `yaml:"downlinks"`
}

// Downlink is a writable point of a LoRaWAN device: the frame a command
// sends, and the rules of the value it carries. The uplink field of the
// same name (or Write.Readback) reads it back.
type Downlink struct {
	// Name is the point's name, a field of the uplinks by default.
	Name        string `yaml:"name"`
	Description string `yaml:"description"`
	Unit        string `yaml:"unit"`
	// FPort is the LoRaWAN port of the downlink (1-223).
	FPort int `yaml:"f_port"`
	// Payload is the frame: hex bytes with one placeholder for the value,
	// e.g. "08 01 {u8}" (see Template for the forms).
	Payload string `yaml:"payload"`
	// Frame is Payload parsed, set by Load (see Template).
	Frame *Template `yaml:"-"`
	// Write bounds the value and says how it is read back.
	Write Write `yaml:"write"`
}

// Defaults returns the topic, device ID path, time path and root of the
// mapping, with the Format's defaults filling what the profile left empty.
func (m *MQTT) Defaults() (topic, deviceID, timePath, root string) {
	topic, deviceID, timePath, root = m.Topic, m.DeviceID, m.Time, m.Root
	var dt, dd, dtm, dr string
	switch m.Format {
	case FormatChirpStackV4:
		dt, dd, dtm, dr = "application/+/device/+/event/up", "deviceInfo.devEui", "time", "object"
	case FormatTTSV3:
		dt, dd, dtm, dr = "v3/+/devices/+/up", "end_device_ids.dev_eui", "received_at", "uplink_message.decoded_payload"
	}
	if topic == "" {
		topic = dt
	}
	if deviceID == "" {
		deviceID = dd
	}
	if timePath == "" {
		timePath = dtm
	}
	if root == "" {
		root = dr
	}
	return
}
