package sim

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ponte-city/ponte/internal/profile"
	"github.com/tidwall/gjson"
)

// TestShippedProfiles simulates every profile in firmware-profiles and
// checks the output decodes as the profile says: frames match their
// records and checksums, payloads carry every field at its path, Modbus
// points are readable, and values stay within the declared ranges.
func TestShippedProfiles(t *testing.T) {
	profiles, err := profile.LoadDir("../../firmware-profiles")
	if err != nil {
		t.Fatal(err)
	}
	if len(profiles) == 0 {
		t.Fatal("no profiles in firmware-profiles")
	}
	for name, p := range profiles {
		t.Run(name, func(t *testing.T) {
			for h := 0; h < 24; h += 2 {
				now := day.Add(time.Duration(h)*time.Hour + 17*time.Minute)
				switch p.Kind {
				case profile.KindModbus:
					checkModbusProfile(t, p, now)
				case profile.KindSerial:
					checkSerialProfile(t, p, now)
				case profile.KindMQTT:
					checkMQTTProfile(t, p, now)
				}
			}
		})
	}
}

func checkRange(t *testing.T, point string, r profile.Range, v float64) {
	t.Helper()
	if !r.Contains(v) {
		t.Errorf("%s = %g outside its range", point, v)
	}
}

func checkModbusProfile(t *testing.T, p *profile.Profile, now time.Time) {
	u := newUnit(t, p, 1, 7)
	u.Update(now)
	for _, pt := range p.Modbus.Points {
		fc := map[profile.Table]byte{profile.TableCoil: 1, profile.TableDiscrete: 2, profile.TableHolding: 3, profile.TableInput: 4}[pt.Table]
		n := pt.Registers()
		resp := u.handle([]byte{fc, byte(pt.Address >> 8), byte(pt.Address), 0, byte(n)})
		if resp[0] != fc {
			t.Fatalf("%s: read answered % X", pt.Name, resp)
		}
		v, err := u.Value(pt.Name, now)
		if err != nil {
			t.Fatal(err)
		}
		if f, ok := v.AsFloat(); ok && pt.Type != profile.TypeBool && pt.Sim == nil {
			checkRange(t, pt.Name, pt.Range, f)
		}
	}
}

func checkSerialProfile(t *testing.T, p *profile.Profile, now time.Time) {
	d, err := NewLineDevice(p, 7)
	if err != nil {
		t.Fatal(err)
	}
	f := p.Serial.Framing
	for i := range p.Serial.Records {
		r := &p.Serial.Records[i]
		frame := string(d.Frame(i, now))
		body := frame
		if f.Start != "" {
			body = strings.TrimSuffix(strings.TrimPrefix(body, f.Start), f.End)
		} else {
			body = strings.TrimSuffix(body, f.Terminator)
		}
		if len(body) == len(frame) {
			t.Fatalf("%s: frame %q lacks its framing", r.Name, frame)
		}
		data, err := p.Serial.Checksum.Verify(body)
		if err != nil {
			t.Fatalf("%s: %v", r.Name, err)
		}
		if r.MatchRe != nil && !r.MatchRe.MatchString(data) {
			t.Errorf("%s: %q does not match %s", r.Name, data, r.Match)
		}
		texts := map[string]string{}
		if r.Re != nil {
			m := r.Re.FindStringSubmatch(data)
			if m == nil {
				t.Fatalf("%s: %q does not match %s", r.Name, data, r.Regex)
			}
			for gi, g := range r.Re.SubexpNames() {
				texts[g] = m[gi]
			}
		} else {
			cols := strings.Split(data, r.Delimiter)
			for _, fl := range r.Fields {
				if *fl.Column < len(cols) {
					texts[strconv.Itoa(*fl.Column)] = cols[*fl.Column]
				}
			}
		}
		for _, fl := range r.Fields {
			key := fl.Group
			if r.Re == nil {
				key = strconv.Itoa(*fl.Column)
			}
			text := strings.TrimSpace(texts[key])
			switch fl.Type {
			case profile.TypeInt, profile.TypeFloat:
				raw, err := strconv.ParseFloat(text, 64)
				if err != nil {
					t.Errorf("%s.%s: %q is not a number", r.Name, fl.Name, text)
					continue
				}
				if fl.Type == profile.TypeInt && strings.Contains(text, ".") {
					t.Errorf("%s.%s: %q is not an integer", r.Name, fl.Name, text)
				}
				checkRange(t, fl.Name, fl.Range, fl.Scaling.Apply(raw))
			}
		}
	}
}

func checkMQTTProfile(t *testing.T, p *profile.Profile, now time.Time) {
	d, err := NewMQTTDevice(p, "A81758FFFE030001", 7)
	if err != nil {
		t.Fatal(err)
	}
	filter, devPath, timePath, root := p.MQTT.Defaults()
	topic, payload := d.Message(now)
	if !topicMatches(filter, topic) {
		t.Errorf("topic %q does not match %q", topic, filter)
	}
	js := gjson.ParseBytes(payload)
	if devPath != "" && js.Get(devPath).String() != "A81758FFFE030001" {
		t.Errorf("%s = %q", devPath, js.Get(devPath).String())
	}
	if timePath != "" {
		if _, err := time.Parse(time.RFC3339Nano, js.Get(timePath).String()); err != nil {
			t.Errorf("%s: %v", timePath, err)
		}
	}
	for _, fl := range p.MQTT.Fields {
		path := fl.Path
		if root != "" {
			path = root + "." + path
		}
		v := js.Get(path)
		switch fl.Type {
		case profile.TypeInt, profile.TypeFloat:
			if v.Type != gjson.Number {
				t.Errorf("%s: %s, want a number", path, v.Raw)
				continue
			}
			checkRange(t, fl.Name, fl.Range, fl.Scaling.Apply(v.Float()))
		case profile.TypeBool:
			if w, ok := boolWords[p.Manufacturer]; ok && v.Str != w[0] && v.Str != w[1] || !ok && !v.IsBool() {
				t.Errorf("%s: %s, want a bool (or the manufacturer's words for one)", path, v.Raw)
			}
		case profile.TypeString:
			if v.Type != gjson.String {
				t.Errorf("%s: %s, want a string", path, v.Raw)
			}
		}
	}
}
