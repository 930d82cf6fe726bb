package influx

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseRefusal(t *testing.T) {
	tests := []struct {
		name, body, fallback string
		want                 refusal
	}{
		{"1.x", `{"error":"partial write: unable to parse 'm x=': missing field value dropped=0"}`, "hdr",
			refusal{Message: "partial write: unable to parse 'm x=': missing field value dropped=0"}},
		{"2.x", `{"code":"invalid","message":"unable to parse 'm x=': missing field value"}`, "",
			refusal{Message: "unable to parse 'm x=': missing field value"}},
		{"3.x", `{"error":"partial write of line protocol occurred","data":[{"original_line":"m x=","line_number":2,"error_message":"missing value"}]}`, "",
			refusal{Message: "partial write of line protocol occurred", Lines: []lineError{{OriginalLine: "m x=", LineNumber: 2, ErrorMessage: "missing value"}}}},
		{"text", "Request Entity Too Large\n", "", refusal{Message: "Request Entity Too Large"}},
		{"empty uses fallback", "", "from header", refusal{Message: "from header"}},
		{"broken json kept as text", `{"error":`, "", refusal{Message: `{"error":`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := parseRefusal([]byte(tt.body), tt.fallback); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestAttribute(t *testing.T) {
	lines := [][]byte{
		[]byte(`energy,device=a,gateway=g v=1 1`),
		[]byte(`energy,device=a,gateway=g v=1i 2`),
		[]byte(`energy,device=b,gateway=g v=2i 3`),
		[]byte(`air,device=c,gateway=g v=2i 3`),
		[]byte(`energy,device=a,gateway=g s="it's': here" 4`),
		[]byte(`energy,device=a,gateway=g v=1i 2`), // a duplicate of line 1
	}
	tests := []struct {
		name string
		r    refusal
		want map[int]string
	}{
		{"1.8 type conflict", refusal{Message: `partial write: field type conflict: input field "v" on measurement "energy" is type integer, already exists as type float dropped=3`},
			map[int]string{
				1: `field type conflict: input field "v" on measurement "energy" is type integer, already exists as type float`,
				2: `field type conflict: input field "v" on measurement "energy" is type integer, already exists as type float`,
				5: `field type conflict: input field "v" on measurement "energy" is type integer, already exists as type float`,
			}},
		{"2.x type conflict wrapped", refusal{Message: `failure writing points to database: partial write: field type conflict: input field "v" on measurement "air" is type integer, already exists as type float dropped=1`},
			map[int]string{3: `field type conflict: input field "v" on measurement "air" is type integer, already exists as type float`}},
		{"1.8 unable to parse, several, quote in line", refusal{Message: "partial write: unable to parse 'energy,device=a,gateway=g v=1 1': bad timestamp\nunable to parse 'energy,device=a,gateway=g s=\"it's': here\" 4': invalid field format dropped=0"},
			map[int]string{0: "unable to parse: bad timestamp", 4: "unable to parse: invalid field format"}},
		{"2.x unable to parse", refusal{Message: "unable to parse 'air,device=c,gateway=g v=2i 3': invalid number"},
			map[int]string{3: "unable to parse: invalid number"}},
		{"3.x per-line list", refusal{Message: "partial write of line protocol occurred", Lines: []lineError{
			{OriginalLine: "air,device=c,gateway=g v=2i 3", LineNumber: 4, ErrorMessage: "bad"},
			{LineNumber: 1, ErrorMessage: "worse"},
			{LineNumber: 99, ErrorMessage: "out of range"}}},
			map[int]string{3: "bad", 0: "worse"}},
		{"line not ours", refusal{Message: "unable to parse 'other x=1': nope"}, map[int]string{}},
		{"bare conflict names nothing", refusal{Message: "field type conflict"}, map[int]string{}},
		{"conflict of a type we did not send", refusal{Message: `partial write: field type conflict: input field "v" on measurement "energy" is type string, already exists as type float dropped=1`}, map[int]string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := attribute(tt.r, lines)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %v\nwant %v", got, tt.want)
			}
		})
	}
}

func TestClip(t *testing.T) {
	long := strings.Repeat("x", 2*maxReason)
	if got := clip(long); len(got) != maxReason+3 || !strings.HasSuffix(got, "...") {
		t.Errorf("clip of %d bytes gave %d bytes", len(long), len(got))
	}
	if got := clip("  short \n"); got != "short" {
		t.Errorf("clip trims: got %q", got)
	}
}

// FuzzAttribute feeds arbitrary server answers: nothing panics, every
// attributed index is a line of the batch, and every reason is bounded.
func FuzzAttribute(f *testing.F) {
	f.Add([]byte(`{"error":"partial write: unable to parse 'm x=': missing field value dropped=0"}`), "m x=\nm y=1i 2")
	f.Add([]byte(`{"error":"partial write: field type conflict: input field \"y\" on measurement \"m\" is type integer, already exists as type float dropped=1"}`), "m x=\nm y=1i 2")
	f.Add([]byte(`{"error":"x","data":[{"original_line":"m y=1i 2","line_number":2,"error_message":"e"}]}`), "m y=1i 2\nm z=\"a\" 3")
	f.Add([]byte("unable to parse '"), "'\n''")
	f.Add([]byte(`{"data":[{"line_number":-1}]}`), `m\,a,t=\ x\=y="q 1`)
	f.Fuzz(func(t *testing.T, body []byte, batch string) {
		var lines [][]byte
		for l := range strings.SplitSeq(batch, "\n") {
			lines = append(lines, []byte(l))
		}
		r := parseRefusal(body, "fallback")
		got := attribute(r, lines)
		for i, why := range got {
			if i < 0 || i >= len(lines) {
				t.Fatalf("attributed index %d of %d lines", i, len(lines))
			}
			if len(why) > maxReason+3 {
				t.Fatalf("reason of %d bytes", len(why))
			}
		}
		for _, l := range lines {
			parseLine(l)
		}
	})
}
