package profile

import (
	"fmt"
	"regexp"
	"strings"
)

var textTypes = []Type{TypeInt, TypeFloat, TypeBool, TypeString}

var (
	serialModes    = []string{ModeFreeRunning, ModeRequestResponse}
	checksumKinds  = []string{"", ChecksumNone, ChecksumNMEAXOR, ChecksumSum8}
	mqttFormats    = []string{FormatJSON, FormatChirpStackV4, FormatTTSV3}
	placeholderRe  = regexp.MustCompile(`\{([A-Za-z_][A-Za-z0-9_]*)\}`)
	maxFrameLength = 64 * 1024
)

func (v *validator) serial(s *Serial) {
	if s.Baud < 0 || s.Baud > 4000000 {
		v.errorf("serial.baud", "%d: expected a baud rate such as 9600", s.Baud)
	}
	if s.DataBits != 0 && (s.DataBits < 5 || s.DataBits > 8) {
		v.errorf("serial.data_bits", "%d: expected 5 to 8", s.DataBits)
	}
	if s.Parity != "" && s.Parity != "N" && s.Parity != "E" && s.Parity != "O" {
		v.errorf("serial.parity", "%q: expected N, E or O", s.Parity)
	}
	if s.StopBits != 0 && s.StopBits != 1 && s.StopBits != 2 {
		v.errorf("serial.stop_bits", "%d: expected 1 or 2", s.StopBits)
	}
	f := s.Framing
	switch {
	case f.Terminator != "" && (f.Start != "" || f.End != ""):
		v.errorf("serial.framing", "give either terminator, or start and end, not both")
	case f.Terminator == "" && (f.Start == "" || f.End == ""):
		v.errorf("serial.framing", "expected terminator (e.g. \"\\r\\n\"), or both start and end")
	}
	if f.MaxLength < 0 || f.MaxLength > maxFrameLength {
		v.errorf("serial.framing.max_length", "%d: expected 1 to %d bytes", f.MaxLength, maxFrameLength)
	}
	if s.Mode != "" && !oneOf(s.Mode, serialModes) {
		v.errorf("serial.mode", "unknown mode %q (expected free_running or request_response)", s.Mode)
	}
	if s.Mode == ModeRequestResponse && (s.Request == nil || s.Request.Command == "") {
		v.errorf("serial.mode", "request_response mode needs request.command, the command to send")
	}
	if s.Mode != ModeRequestResponse && s.Request != nil {
		v.errorf("serial.request", "request applies only to mode request_response")
	}
	if !oneOf(s.Checksum.Kind, checksumKinds) {
		v.errorf("serial.checksum.kind", "unknown checksum %q (expected none, nmea_xor or sum8)", s.Checksum.Kind)
	}
	if len(s.Records) == 0 {
		v.errorf("serial.records", "required (expected at least one record)")
	}
	seen := map[string]string{}
	for i := range s.Records {
		v.record(fmt.Sprintf("serial.records[%d]", i), &s.Records[i], s.Checksum, seen)
	}
	v.serialRequests(s, seen)
}

func (v *validator) compile(path, expr string) *regexp.Regexp {
	re, err := regexp.Compile(expr)
	if err != nil {
		v.errorf(path, "bad regular expression: %v", err)
		return nil
	}
	return re
}

func (v *validator) record(path string, r *Record, sum Checksum, seen map[string]string) {
	v.required(path+".name", r.Name)
	if r.Match != "" {
		r.MatchRe = v.compile(path+".match", r.Match)
	}
	switch {
	case r.Regex != "" && r.Delimiter != "":
		v.errorf(path, "give either regex or delimiter, not both")
	case r.Regex != "":
		r.Re = v.compile(path+".regex", r.Regex)
	case r.Delimiter == "":
		v.errorf(path, "expected regex (with named groups) or delimiter (with columns)")
	}
	v.required(path+".example", r.Example)
	if len(r.Fields) == 0 {
		v.errorf(path+".fields", "required (expected at least one field)")
	}
	groups := map[string]bool{}
	if r.Re != nil {
		for _, n := range r.Re.SubexpNames() {
			if n != "" {
				groups[n] = true
			}
		}
	}
	maxCol := -1
	for i := range r.Fields {
		f := &r.Fields[i]
		fp := fmt.Sprintf("%s.fields[%d]", path, i)
		v.fieldName(seen, fp+".name", f.Name, groups)
		v.textField(fp, f)
		switch {
		case r.Re != nil:
			if f.Column != nil {
				v.errorf(fp+".column", "column applies to delimiter records; this record uses regex groups")
			}
			if !groups[f.Group] {
				v.errorf(fp+".group", "group %q is not a named group of the record's regex (expected one of %s)", f.Group, list(sortedSet(groups)))
			}
		case r.Delimiter != "":
			if f.Group != "" {
				v.errorf(fp+".group", "group applies to regex records; this record uses delimiter columns")
			}
			if f.Column == nil || *f.Column < 0 {
				v.errorf(fp+".column", "required (expected the 0-based column of the value)")
			} else if *f.Column > maxCol {
				maxCol = *f.Column
			}
		}
		if f.Path != "" {
			v.errorf(fp+".path", "path applies to MQTT fields")
		}
	}
	v.example(path, r, sum, maxCol)
}

// example checks that the record's example frame is one the record parses.
// The example includes the checksum, as the device sends it; match and
// regex see the frame with the checksum cut off, as the parser does.
func (v *validator) example(path string, r *Record, sum Checksum, maxCol int) {
	if r.Example == "" {
		return
	}
	data, err := sum.Verify(r.Example)
	if err != nil {
		v.errorf(path+".example", "%v", err)
		return
	}
	if r.MatchRe != nil && !r.MatchRe.MatchString(data) {
		v.errorf(path+".example", "example %q does not match the record's match expression", data)
	}
	if r.Re != nil && !r.Re.MatchString(data) {
		v.errorf(path+".example", "example %q does not match the record's regex", data)
	}
	if r.Delimiter != "" && maxCol >= 0 {
		if n := len(strings.Split(data, r.Delimiter)); n <= maxCol {
			v.errorf(path+".example", "example has %d columns but a field reads column %d", n, maxCol)
		}
	}
}

func (v *validator) fieldName(seen map[string]string, path, name string, groups map[string]bool) {
	if !placeholderRe.MatchString(name) {
		v.uniqueName(seen, path, name)
		return
	}
	for _, m := range placeholderRe.FindAllStringSubmatch(name, -1) {
		if !groups[m[1]] {
			v.errorf(path, "placeholder {%s} is not a named group of the record's regex", m[1])
		}
	}
	if plain := placeholderRe.ReplaceAllString(name, "x"); !pointNameRe.MatchString(plain) {
		v.errorf(path, "point name %q: expected a letter then letters, digits, _ or {group}", name)
	}
}

func (v *validator) textField(path string, f *Field) {
	if !oneOf(f.Type, textTypes) {
		v.errorf(path+".type", "unknown type %q (expected one of %s)", f.Type, list(textTypes))
	}
	v.scaling(path, f.Scaling, f.Type)
	v.rng(path, f.Range)
	v.sim(path, f.Sim)
}

func (v *validator) mqtt(m *MQTT) {
	if m.Format != "" && !oneOf(m.Format, mqttFormats) {
		v.errorf("mqtt.format", "unknown format %q (expected one of %s)", m.Format, list(mqttFormats))
	}
	topic, _, _, _ := m.Defaults()
	if topic == "" {
		v.errorf("mqtt.topic", "required for format json (expected a topic filter such as sensors/+/air)")
	} else if err := checkTopicFilter(topic); err != nil {
		v.errorf("mqtt.topic", "%q: %v", topic, err)
	}
	if len(m.Fields) == 0 {
		v.errorf("mqtt.fields", "required (expected at least one field)")
	}
	seen := map[string]string{}
	for i := range m.Fields {
		f := &m.Fields[i]
		fp := fmt.Sprintf("mqtt.fields[%d]", i)
		v.uniqueName(seen, fp+".name", f.Name)
		v.required(fp+".path", f.Path)
		v.textField(fp, f)
		if f.Group != "" || f.Column != nil {
			v.errorf(fp, "group and column apply to serial records; MQTT fields use path")
		}
	}
	if len(m.Downlinks) > 0 && m.Format != FormatChirpStackV4 && m.Format != FormatTTSV3 {
		v.errorf("mqtt.downlinks", "downlinks go through a LoRaWAN network server: format must be %s or %s", FormatChirpStackV4, FormatTTSV3)
	}
	dseen := map[string]string{}
	for i := range m.Downlinks {
		d := &m.Downlinks[i]
		dp := fmt.Sprintf("mqtt.downlinks[%d]", i)
		v.uniqueName(dseen, dp+".name", d.Name)
		if d.FPort < 1 || d.FPort > 223 {
			v.errorf(dp+".f_port", "%d: expected a LoRaWAN application port, 1 to 223", d.FPort)
		}
		v.downlinkPayload(dp+".payload", d)
		v.write(dp+".write", &d.Write, d.Name, func(name string) bool { _, ok := seen[name]; return ok })
	}
}

// checkTopicFilter applies the MQTT 3.1.1 rules for topic filters (4.7.1).
func checkTopicFilter(t string) error {
	levels := strings.Split(t, "/")
	for i, l := range levels {
		switch {
		case l == "#" && i != len(levels)-1:
			return fmt.Errorf("# must be the last level")
		case strings.Contains(l, "#") && l != "#", strings.Contains(l, "+") && l != "+":
			return fmt.Errorf("wildcards + and # must fill a whole level")
		}
	}
	return nil
}

func sortedSet(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sortStrings(out)
	return out
}
