package sim

import (
	"io"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseUnits(t *testing.T) {
	tests := []struct {
		in      string
		want    []uint8
		wantErr string
	}{
		{"1", []uint8{1}, ""},
		{"1,2,3", []uint8{1, 2, 3}, ""},
		{"1-4,10", []uint8{1, 2, 3, 4, 10}, ""},
		{"0", nil, "expected 1 to 247"},
		{"240-250", nil, "expected 1 to 247"},
		{"3-1", nil, "range"},
		{"1,1", nil, "twice"},
		{"a", nil, "unit id"},
		{"", nil, "unit id"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseUnits(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want one mentioning %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || !slices.Equal(got, tc.want) {
				t.Errorf("got %v, %v; want %v", got, err, tc.want)
			}
		})
	}
	if got, _ := ParseUnits("1-100"); len(got) != 100 {
		t.Errorf("1-100 gave %d units", len(got))
	}
}

func TestParseArgs(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr string
		check   func(t *testing.T, o Options)
	}{
		{"full", []string{"--profile", "p.yaml", "--modbus-tcp", "127.0.0.1:0", "--units", "1-3", "--seed", "9",
			"--fault", "2=timeout", "--fault", "3=garbage", "--control", "127.0.0.1:0", "--update", "250ms", "--time-scale", "60"}, "",
			func(t *testing.T, o Options) {
				if len(o.Units) != 3 || o.Seed != 9 || o.Faults["2"] != FaultTimeout || o.Faults["3"] != FaultGarbage ||
					o.Update != 250*time.Millisecond || o.TimeScale != 60 {
					t.Errorf("options %+v", o)
				}
			}},
		{"mqtt ids", []string{"--profile", "p.yaml", "--mqtt", "tcp://127.0.0.1:1883", "--mqtt-ids", "a,b"}, "",
			func(t *testing.T, o Options) {
				if !slices.Equal(o.MQTTIDs, []string{"a", "b"}) {
					t.Errorf("ids %v", o.MQTTIDs)
				}
			}},
		{"no profile", []string{"--modbus-tcp", "127.0.0.1:0"}, "--profile", nil},
		{"nothing to serve", []string{"--profile", "p.yaml"}, "nothing to serve", nil},
		{"bad fault", []string{"--profile", "p.yaml", "--modbus-tcp", ":0", "--fault", "1=melt"}, "unknown fault", nil},
		{"fault without unit", []string{"--profile", "p.yaml", "--modbus-tcp", ":0", "--fault", "timeout"}, "UNIT=KIND", nil},
		{"control not loopback", []string{"--profile", "p.yaml", "--modbus-tcp", ":0", "--control", "0.0.0.0:8080"}, "loopback", nil},
		{"bad parity", []string{"--profile", "p.yaml", "--modbus-rtu", "/dev/null", "--parity", "X"}, "parity", nil},
		{"bad interval", []string{"--profile", "p.yaml", "--serial", "/dev/null", "--interval", "0s"}, "interval", nil},
		{"bad units", []string{"--profile", "p.yaml", "--modbus-tcp", ":0", "--units", "0"}, "--units", nil},
		{"burn", []string{"--burn", "20"}, "", func(t *testing.T, o Options) {
			if o.Burn != 20 {
				t.Errorf("burn %d", o.Burn)
			}
		}},
		{"burn with a device", []string{"--burn", "2", "--profile", "p.yaml", "--modbus-tcp", ":0"}, "runs alone", nil},
		{"burn negative", []string{"--burn", "-1"}, "--burn", nil},
		{"burn too many", []string{"--burn", "100000"}, "--burn", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o, err := ParseArgs(tc.args, io.Discard)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want one mentioning %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, o)
		})
	}
}
