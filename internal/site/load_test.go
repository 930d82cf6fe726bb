package site

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ponte-city/ponte/wire"
)

const shippedProfiles = "../../firmware-profiles"

func TestParseSize(t *testing.T) {
	cases := []struct {
		in   string
		want Size
		err  bool
	}{
		{in: "0", want: 0},
		{in: "1048576", want: 1 << 20},
		{in: "2GiB", want: 2 << 30},
		{in: "512 MiB", want: 512 << 20},
		{in: "1.5KiB", want: 1536},
		{in: "64kB", want: 64000},
		{in: "2GB", want: 2e9},
		{in: "10B", want: 10},
		{in: "2 gigs", err: true},
		{in: "-1MiB", err: true},
		{in: "GiB", err: true},
		{in: "", err: true},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			got, err := ParseSize(c.in)
			if c.err {
				if err == nil {
					t.Fatalf("ParseSize(%q) = %d, want an error", c.in, got)
				}
				return
			}
			if err != nil || got != c.want {
				t.Fatalf("ParseSize(%q) = %d, %v; want %d", c.in, got, err, c.want)
			}
		})
	}
	if s := Size(2 << 30).String(); s != "2GiB" {
		t.Errorf("String = %q", s)
	}
}

// TestParseDefaults checks what a minimal config turns into: resolved
// paths, defaults, a password read from its file.
func TestParseDefaults(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "pw"), []byte("s3cret-long-enough-password\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "ca.pem"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	src := `gateway: {id: gw-1}
uplink:
  broker: ssl://127.0.0.1:8883
  password_file: pw
  tls: {ca: ca.pem}
buffer: {dir: buf, max_bytes: 1GiB}
devices:
  - {name: m1, profile: eastron-sdm630-v2, address: "tcp://127.0.0.1:502", unit: 1, location: {lon: 11.25, lat: 43.77}}
  - {name: w1, profile: vaisala-wxt530-nmea, address: "serial:///dev/ttyUSB1", location: {lon: 11.25, lat: 43.77}}
`
	s, err := Parse(filepath.Join(dir, "site.yaml"), []byte(src), Options{ProfilesDir: shippedProfiles})
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"password", s.Uplink.Secret(), "s3cret-long-enough-password"},
		{"tls ca", s.Uplink.TLS.CA, filepath.Join(dir, "ca.pem")},
		{"buffer dir", s.Buffer.Dir, filepath.Join(dir, "buf")},
		{"max bytes", s.Buffer.MaxBytes, Size(1 << 30)},
		{"listen", s.HTTP.Listen, DefaultListen},
		{"modbus interval", s.Devices[0].PollInterval(), DefaultInterval},
		{"free running interval", s.Devices[1].PollInterval(), time.Duration(0)},
		{"category", s.Devices[0].Category(), wire.CategoryEnergy},
		{"kind", string(s.Devices[1].Kind()), "serial"},
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			if c.got != c.want {
				t.Errorf("got %v, want %v", c.got, c.want)
			}
		})
	}

	// The same config on a box without the files.
	os.Remove(filepath.Join(dir, "pw"))
	os.Remove(filepath.Join(dir, "ca.pem"))
	_, err = Parse(filepath.Join(dir, "site.yaml"), []byte(src), Options{ProfilesDir: shippedProfiles})
	if err == nil {
		t.Fatal("missing password and CA files not reported")
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], "site.yaml:4: uplink.password_file: cannot read the secret") ||
		!strings.Contains(lines[1], "site.yaml:5: uplink.tls.ca: cannot read") {
		t.Errorf("errors:\n%v", err)
	}
	if _, err := Parse(filepath.Join(dir, "site.yaml"), []byte(src), Options{ProfilesDir: shippedProfiles, Offline: true}); err != nil {
		t.Errorf("offline: %v", err)
	}
}
