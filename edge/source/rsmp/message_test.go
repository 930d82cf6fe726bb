package rsmp

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestDecode(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want *Message
		err  string // substring of the DecodeError's reason
		mid  string // the DecodeError's MID
	}{
		{name: "version with an extra field (tolerated)",
			in:   `{"mType":"rSMsg","type":"Version","mId":"6f968141-4de5-42ff-8032-45f8093762c5","RSMP":[{"vers":"3.1.1"},{"vers":"3.1.2"}],"siteId":[{"sId":"O+14439=481WA001"}],"SXL":"1.0.13","date":"2024-01-01"}`,
			want: &Message{Type: TypeVersion, MID: "6f968141-4de5-42ff-8032-45f8093762c5", Versions: []string{"3.1.1", "3.1.2"}, SiteIDs: []string{"O+14439=481WA001"}, SXL: "1.0.13"}},
		{name: "not ack",
			in:   `{"mType":"rSMsg","type":"MessageNotAck","oMId":"554dff0-9cc5-4232-97a9-018d5796e86a","rea":"Unknown packet type: Watchdddog"}`,
			want: &Message{Type: TypeMessageNotAck, OMID: "554dff0-9cc5-4232-97a9-018d5796e86a", Rea: "Unknown packet type: Watchdddog"}},
		{name: "status response: string, null, array",
			in: `{"mType":"rSMsg","type":"StatusResponse","mId":"0a95e463-192a-4dd7-8b57-d2c2da636584","ntsOId":"","xNId":"","cId":"C1","sTs":"2015-06-08T09:15:18.266Z","sS":[{"sCI":"S0014","n":"status","s":"3","q":"recent"},{"sCI":"S0099","n":"x","s":null,"q":"unknown"},{"sCI":"S0005","n":"statusByIntersection","s":[{"intersection":"1"}],"q":"recent"}]}`,
			want: &Message{Type: TypeStatusResponse, MID: "0a95e463-192a-4dd7-8b57-d2c2da636584", CID: "C1", Values: []Value{
				{Code: "S0014", Name: "status", Quality: "recent", Text: "3"},
				{Code: "S0099", Name: "x", Quality: "unknown", Null: true},
				{Code: "S0005", Name: "statusByIntersection", Quality: "recent", List: true}}}},
		{name: "command response",
			in:   `{"mType":"rSMsg","type":"CommandResponse","mId":"0fd63726-be19-4c09-8553-48451735cb0b","cId":"C1","cTS":"2015-06-08T11:49:03.293Z","rvs":[{"cCI":"M0002","n":"timeplan","v":"3","age":"recent"}]}`,
			want: &Message{Type: TypeCommandResponse, MID: "0fd63726-be19-4c09-8553-48451735cb0b", CID: "C1", Values: []Value{{Code: "M0002", Name: "timeplan", Quality: "recent", Text: "3"}}}},
		{name: "invalid JSON, mId recovered",
			in: `{"mType":"rSMsg","type":"Watchdog","mId":"f48900bc-e6fb-431a-8ca4-05070016f64a","wTs":`, err: "invalid JSON", mid: "f48900bc-e6fb-431a-8ca4-05070016f64a"},
		{name: "not JSON at all", in: `hello`, err: "invalid JSON"},
		{name: "names are case sensitive",
			in: `{"mtype":"rSMsg","type":"Watchdog","mId":"f48900bc-e6fb-431a-8ca4-05070016f64a"}`, err: "missing mType", mid: "f48900bc-e6fb-431a-8ca4-05070016f64a"},
		{name: "type values are case sensitive",
			in: `{"mType":"rSMsg","type":"watchdog","mId":"f48900bc-e6fb-431a-8ca4-05070016f64a"}`, err: `unknown message type "watchdog"`, mid: "f48900bc-e6fb-431a-8ca4-05070016f64a"},
		{name: "wrong mType", in: `{"mType":"x","type":"Watchdog","mId":"a"}`, err: `mType "x"`, mid: "a"},
		{name: "field of the wrong type", in: `{"mType":"rSMsg","type":"Version","mId":"a","RSMP":[{"vers":3}],"siteId":[],"SXL":"1"}`, err: "RSMP[].vers: expected a string", mid: "a"},
		{name: "sS not an array", in: `{"mType":"rSMsg","type":"StatusResponse","mId":"a","sS":{}}`, err: "sS: expected an array", mid: "a"},
		{name: "ack without oMId", in: `{"mType":"rSMsg","type":"MessageAck"}`, err: "missing oMId"},
		{name: "message without mId", in: `{"mType":"rSMsg","type":"Watchdog","wTs":"x"}`, err: "Watchdog without mId"},
		{name: "a JSON array", in: `[1,2]`, err: "invalid JSON"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Decode([]byte(tc.in))
			if tc.err != "" {
				var de *DecodeError
				if !errors.As(err, &de) || !strings.Contains(de.Reason, tc.err) || de.MID != tc.mid {
					t.Fatalf("error %#v, want a DecodeError with %q and MID %q", err, tc.err, tc.mid)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(m, tc.want) {
				t.Fatalf("got  %+v\nwant %+v", m, tc.want)
			}
		})
	}
}

// jsonShape is a message's top-level fields, in order, with the JSON type
// of each; arrays of objects show their items' fields.
type jsonField struct{ name, typ string }

func shape(t *testing.T, frame []byte) []jsonField {
	t.Helper()
	if len(frame) == 0 || frame[len(frame)-1] != FormFeed || bytes.Count(frame, []byte{FormFeed}) != 1 {
		t.Fatalf("frame %q: expected one form feed, at the end", frame)
	}
	dec := json.NewDecoder(bytes.NewReader(frame[:len(frame)-1]))
	var out []jsonField
	var walk func(prefix string)
	walk = func(prefix string) {
		tok, _ := dec.Token() // {
		if tok != json.Delim('{') {
			t.Fatalf("expected an object, got %v", tok)
		}
		for dec.More() {
			k, _ := dec.Token()
			name := prefix + k.(string)
			v, _ := dec.Token()
			switch v := v.(type) {
			case json.Delim:
				if v == '[' {
					out = append(out, jsonField{name, "array"})
					first := true
					for dec.More() {
						if first {
							walk(name + "[].")
							first = false
						} else {
							var skip json.RawMessage
							_ = dec.Decode(&skip)
						}
					}
					_, _ = dec.Token()
				}
			case string:
				out = append(out, jsonField{name, "string"})
			default:
				out = append(out, jsonField{name, "other"})
			}
		}
		_, _ = dec.Token() // }
	}
	walk("")
	return out
}

func fields(spec string) []jsonField {
	var out []jsonField
	for _, f := range strings.Fields(spec) {
		name, typ, _ := strings.Cut(f, ":")
		out = append(out, jsonField{name, typ})
	}
	return out
}

var (
	uuid4Re = regexp.MustCompile(`^[a-f0-9]{8}-[a-f0-9]{4}-4[a-f0-9]{3}-[89ab][a-f0-9]{3}-[a-f0-9]{12}$`)
	tsRe    = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z$`)
)

// TestGoldenFrames compares the messages this supervisor sends with the
// structure of the spec's own examples (RSMP core 3.2.2, section "Basic
// structure"): the same fields, in the same order, every value a JSON
// string (RSMP sends no numbers or booleans in these messages), and a
// form feed after each.
func TestGoldenFrames(t *testing.T) {
	mid := "6f968141-4de5-42ff-8032-45f8093762c5"
	at := time.Date(2015, 6, 8, 12, 1, 39, 654_000_000, time.UTC)
	tests := []struct {
		name  string
		frame []byte
		want  string // name:type, as JSon code N of the spec lists them
		exact string // the frame, byte for byte
	}{
		{"MessageAck (JSon code 22)", encodeAck(mid), "mType:string type:string oMId:string",
			`{"mType":"rSMsg","type":"MessageAck","oMId":"6f968141-4de5-42ff-8032-45f8093762c5"}` + "\f"},
		{"MessageNotAck (JSon code 23)", encodeNotAck(mid, "Unknown packet type: Watchdddog"), "mType:string type:string oMId:string rea:string",
			`{"mType":"rSMsg","type":"MessageNotAck","oMId":"6f968141-4de5-42ff-8032-45f8093762c5","rea":"Unknown packet type: Watchdddog"}` + "\f"},
		{"Version (JSon code 24)", encodeVersion(mid, []string{"3.1.5", "3.2.2"}, "O+14439=481WA001", "1.2.1"),
			"mType:string type:string mId:string RSMP:array RSMP[].vers:string siteId:array siteId[].sId:string SXL:string",
			`{"mType":"rSMsg","type":"Version","mId":"6f968141-4de5-42ff-8032-45f8093762c5","RSMP":[{"vers":"3.1.5"},{"vers":"3.2.2"}],"siteId":[{"sId":"O+14439=481WA001"}],"SXL":"1.2.1"}` + "\f"},
		{"Watchdog (JSon code 25)", encodeWatchdog(mid, at), "mType:string type:string mId:string wTs:string",
			`{"mType":"rSMsg","type":"Watchdog","mId":"6f968141-4de5-42ff-8032-45f8093762c5","wTs":"2015-06-08T12:01:39.654Z"}` + "\f"},
		{"StatusRequest (JSon code 13)", encodeStatusRequest(mid, "O+14439=481WA001", []StatusRef{{"S0014", "status"}, {"S0014", "source"}}),
			"mType:string type:string mId:string ntsOId:string xNId:string cId:string sS:array sS[].sCI:string sS[].n:string", ""},
		{"CommandRequest (JSon code 20)", encodeCommandRequest(mid, "O+14439=481WA001", []CommandArg{{"M0002", "timeplan", "setPlan", "3"}, {"M0002", "securityCode", "setPlan", "1234"}, {"M0002", "status", "setPlan", "True"}}),
			"mType:string type:string mId:string ntsOId:string xNId:string cId:string arg:array arg[].cCI:string arg[].n:string arg[].cO:string arg[].v:string", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got, want := shape(t, tc.frame), fields(tc.want); !reflect.DeepEqual(got, want) {
				t.Fatalf("fields\n got  %v\n want %v", got, want)
			}
			if tc.exact != "" && string(tc.frame) != tc.exact {
				t.Fatalf("frame\n got  %q\n want %q", tc.frame, tc.exact)
			}
			if _, err := Decode(tc.frame[:len(tc.frame)-1]); err != nil {
				t.Fatalf("own frame does not decode: %v", err)
			}
		})
	}
	if id := newMID(); !uuid4Re.MatchString(id) {
		t.Errorf("newMID() = %q, not a version 4 UUID (RSMP core 3.2.2: \"Only version 4 of Leach-Salz UUID is used\")", id)
	}
	if ts := timestamp(time.Now()); !tsRe.MatchString(ts) {
		t.Errorf("timestamp %q does not match the schema's pattern", ts)
	}
}

// FuzzDecode: any input decodes or is a DecodeError, never a panic; a
// decoded message has a known type.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"mType":"rSMsg","type":"Version","mId":"a","RSMP":[{"vers":"3.2.2"}],"siteId":[{"sId":"S"}],"SXL":"1.2.1"}`))
	f.Add([]byte(`{"mType":"rSMsg","type":"StatusResponse","mId":"a","sS":[{"sCI":"S0014","n":"status","s":null,"q":"recent"}]}`))
	f.Add([]byte(`{"mType":"rSMsg","type":"CommandResponse","mId":"a","rvs":[{"cCI":"M0002","n":"timeplan","v":[],"age":"recent"}]}`))
	f.Add([]byte(`{"mType":"rSMsg","type":"MessageNotAck","oMId":"a","rea":"Incorrect security code"}`))
	f.Add([]byte(`{"mId":"abc"`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Decode(data)
		if err != nil {
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("error %T is not a DecodeError", err)
			}
			return
		}
		if !knownTypes[m.Type] {
			t.Fatalf("decoded an unknown type %q", m.Type)
		}
	})
}
