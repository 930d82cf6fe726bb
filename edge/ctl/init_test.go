package ctl

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ponte-city/ponte/edge/agent"
	"github.com/ponte-city/ponte/internal/profile"
	"github.com/ponte-city/ponte/internal/site"
	"github.com/ponte-city/ponte/internal/testenv"
)

const shippedProfiles = "../../firmware-profiles"

// runIn runs ponte-ctl with stdin.
func runIn(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Run(context.Background(), Env{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb}, args)
	return code, out.String(), errb.String()
}

// TestInitRoundTrip: flags -> file -> agent.Load, with a device of each
// kind, one of them taking the gateway's location and an area with a
// comma.
func TestInitRoundTrip(t *testing.T) {
	out := filepath.Join(t.TempDir(), "site.yaml")
	args := []string{"init", "--out", out, "--profiles", shippedProfiles,
		"--gateway", "fi-cabinet-07", "--broker", "ssl://mqtt.ponte.example:8883", "--password-file", "uplink.password",
		"--location", "11.2558,43.7696",
		"--device", "name=meter,profile=eastron-sdm630-v2,address=rtu:///dev/ttyUSB0?baud=9600&parity=E,unit=3,lon=11.2560,lat=43.7700,area=Quartiere 1, Centro storico",
		"--device", "name=weather,profile=vaisala-wxt530-nmea.yaml,address=serial:///dev/ttyUSB1?baud=19200,interval=30s",
		"--device", "name=bay-1,profile=bosch-pls-chirpstack,address=mqtt://127.0.0.1:1883,id=70b3d57ed0001234,entity=urn:ngsi-ld:ParkingSpot:bay-1",
	}
	code, stdout, stderr := runIn(t, "", args...)
	if code != ExitOK {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "next: ponte-ctl test "+out) {
		t.Errorf("stdout does not say what to do next:\n%s", stdout)
	}
	testenv.RequireMode(t, 0o600, out)
	s, err := agent.Load(out, site.Options{ProfilesDir: shippedProfiles, Offline: true})
	if err != nil {
		t.Fatal(err)
	}
	if s.Gateway.ID != "fi-cabinet-07" || s.Uplink.Broker != "ssl://mqtt.ponte.example:8883" ||
		s.Uplink.PasswordFile != filepath.Join(filepath.Dir(out), "uplink.password") {
		t.Fatalf("gateway/uplink: %+v %+v", s.Gateway, s.Uplink)
	}
	if len(s.Devices) != 3 {
		t.Fatalf("%d devices", len(s.Devices))
	}
	m, w, b := s.Devices[0], s.Devices[1], s.Devices[2]
	if m.Unit != 3 || m.Address != "rtu:///dev/ttyUSB0?baud=9600&parity=E" || *m.Location != (site.Location{Lon: 11.256, Lat: 43.77}) ||
		m.Area != "Quartiere 1, Centro storico" || m.Kind() != profile.KindModbus {
		t.Errorf("meter: %+v", m)
	}
	if w.Profile != "vaisala-wxt530-nmea" || w.Interval.D().Seconds() != 30 || *w.Location != (site.Location{Lon: 11.2558, Lat: 43.7696}) {
		t.Errorf("weather: %+v (the gateway's location applies)", w)
	}
	if b.ID != "70b3d57ed0001234" || b.Entity != "urn:ngsi-ld:ParkingSpot:bay-1" || b.Kind() != profile.KindMQTT {
		t.Errorf("bay: %+v", b)
	}
	data, _ := os.ReadFile(out)
	if strings.Contains(string(data), "password:") {
		t.Errorf("init wrote a password:\n%s", data)
	}

	t.Run("an existing file is kept without --force", func(t *testing.T) {
		code, _, stderr := runIn(t, "", args...)
		if code != ExitFail || !strings.Contains(stderr, "--force") {
			t.Fatalf("exit %d, stderr %s", code, stderr)
		}
		if now, _ := os.ReadFile(out); !bytes.Equal(now, data) {
			t.Fatal("file changed")
		}
	})
	t.Run("--force overwrites, still 0600", func(t *testing.T) {
		if err := os.Chmod(out, 0o644); err != nil {
			t.Fatal(err)
		}
		forced := append(append([]string{}, args[:len(args)-4]...), "--force")
		code, stdout, stderr := runIn(t, "", forced...)
		if code != ExitOK {
			t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
		}
		testenv.RequireMode(t, 0o600, out)
		s, err := agent.Load(out, site.Options{ProfilesDir: shippedProfiles, Offline: true})
		if err != nil || len(s.Devices) != 1 {
			t.Fatalf("after --force: %v, %+v", err, s)
		}
	})
}

// TestInitRefusesInvalid: a config that would not validate is not
// written, and every error is named once with what to do next.
func TestInitRefusesInvalid(t *testing.T) {
	out := filepath.Join(t.TempDir(), "site.yaml")
	code, _, stderr := runIn(t, "", "init", "--out", out, "--profiles", shippedProfiles,
		"--gateway", "fi-cabinet-07", "--broker", "tcp://127.0.0.1:1883", "--location", "11.2558,43.7696",
		"--device", "name=meter,profile=eastron-sdm630,address=tcp://10.0.0.5:502,unit=1",
		"--device", "name=air,profile=vaisala-aqt420,address=serial:///dev/ttyUSB0,unit=3")
	if code != ExitFail {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	for _, want := range []string{
		"devices[0].profile: unknown profile \"eastron-sdm630\"",
		"devices[1].address: \"serial:///dev/ttyUSB0\" does not fit profile vaisala-aqt420",
		"2 errors; devices[N] is the (N+1)th device given",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Fatalf("written anyway: %v", err)
	}
}

// TestInitMissingFlags: without a terminal, missing flags are an error
// naming them; nothing is asked or written.
func TestInitMissingFlags(t *testing.T) {
	out := filepath.Join(t.TempDir(), "site.yaml")
	code, stdout, stderr := runIn(t, "fi-x\n", "init", "--out", out, "--broker", "tcp://127.0.0.1:1883")
	if code != ExitUsage {
		t.Fatalf("exit %d", code)
	}
	if !strings.Contains(stderr, "missing --gateway, --device; stdin is not a terminal") || stdout != "" {
		t.Fatalf("stdout %q\nstderr %s", stdout, stderr)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Fatalf("written anyway: %v", err)
	}
	for _, spec := range []string{"name=a", "name=a,profile=p,lon=1", "name=a,profile=p,unit=x", "name=a,profile=p,colour=red", "name=a,name=b,profile=p"} {
		if code, _, stderr := runIn(t, "", "init", "--device", spec); code != ExitUsage {
			t.Errorf("--device %s: exit %d (%s)", spec, code, stderr)
		}
	}
}

// TestInitInteractive answers init's questions on a fake stdin (--ask
// stands for a terminal), with a wrong answer asked again and defaults
// taken.
func TestInitInteractive(t *testing.T) {
	out := filepath.Join(t.TempDir(), "site.yaml")
	answers := strings.Join([]string{
		"ba-murat-01",             // gateway ID
		"tcp://127.0.0.1:1883",    // broker
		"",                        // password file: default uplink.password
		"16.8719,41.1171",         // gateway location
		"meter",                   // device 1
		"eastron-sdm63",           // a typo: asked again
		"eastron-sdm630-v2",       // profile
		"tcp://192.168.10.20:502", // address
		"",                        // unit: default 1
		"",                        // location: the gateway's
		"Municipio I",             // area
		"bay-1",                   // device 2
		"bosch-pls-chirpstack",    //
		"mqtt://127.0.0.1:1883",   //
		"70b3d57ed0001234",        // DevEUI
		"16.8720, 41.1172",        // own location
		"",                        // no area
		"",                        // no more devices
	}, "\n") + "\n"
	code, stdout, stderr := runIn(t, answers, "init", "--ask", "--out", out, "--profiles", shippedProfiles)
	if code != ExitOK {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	for _, want := range []string{"Gateway ID: ", "Modbus unit ID [1]: ", "expected one of ", "address (tcp://host:port or rtu://"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("prompts lack %q:\n%s", want, stdout)
		}
	}
	s, err := agent.Load(out, site.Options{ProfilesDir: shippedProfiles, Offline: true})
	if err != nil {
		t.Fatal(err)
	}
	if s.Gateway.ID != "ba-murat-01" || filepath.Base(s.Uplink.PasswordFile) != "uplink.password" || len(s.Devices) != 2 {
		t.Fatalf("%+v", s.Site)
	}
	m, b := s.Devices[0], s.Devices[1]
	if m.Unit != 1 || m.Area != "Municipio I" || *m.Location != (site.Location{Lon: 16.8719, Lat: 41.1171}) {
		t.Errorf("meter %+v", m)
	}
	if b.ID != "70b3d57ed0001234" || *b.Location != (site.Location{Lon: 16.872, Lat: 41.1172}) || b.Area != "" {
		t.Errorf("bay %+v", b)
	}

	t.Run("input ends early", func(t *testing.T) {
		code, _, stderr := runIn(t, "ba-murat-01\n", "init", "--ask", "--out", filepath.Join(t.TempDir(), "s.yaml"), "--profiles", shippedProfiles)
		if code != ExitUsage || !strings.Contains(stderr, "stdin ended") {
			t.Fatalf("exit %d: %s", code, stderr)
		}
	})
}
