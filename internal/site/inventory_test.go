package site

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ponte-city/ponte/wire"
)

// TestInventory: the shipped example sites are one inventory; a device is
// found by gateway and name with its category and area.
func TestInventory(t *testing.T) {
	paths, _ := filepath.Glob("../../deploy/sites/*.yaml")
	inv, err := LoadInventory(paths, Options{Offline: true, ProfilesDir: shippedProfiles})
	if err != nil {
		t.Fatal(err)
	}
	if len(inv.Sites()) != len(paths) || len(paths) < 2 {
		t.Fatalf("%d sites from %d files", len(inv.Sites()), len(paths))
	}
	d, ok := inv.Device("ba-murat-cavour-piccinni", "ba-cavour-bay-101")
	if !ok || d.Category() != wire.CategoryParking || d.Area != "Municipio I" || d.Location == nil {
		t.Fatalf("bay 101: %v %+v", ok, d)
	}
	if _, ok := inv.Device("ba-murat-cavour-piccinni", "fi-q2-0042-meter"); ok {
		t.Error("a device found under another gateway")
	}
	if s, ok := inv.Gateway("fi-lighting-q2-0042"); !ok || len(inv.Devices()["fi-lighting-q2-0042"]) != len(s.Devices) {
		t.Errorf("Devices() of fi-lighting-q2-0042: %v", inv.Devices())
	}
}

// TestInventoryErrors: every file's problems are reported, each naming
// its file; one gateway in two files is refused naming both.
func TestInventoryErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, gw, lon string) string {
		y := "gateway: {id: " + gw + "}\nuplink: {broker: tcp://127.0.0.1:1883}\ndevices:\n" +
			"  - {name: m1, profile: eastron-sdm630-v2, address: \"tcp://127.0.0.1:502\", unit: 1, location: {lon: " + lon + ", lat: 43.77}}\n"
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(y), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	a := write("a.yaml", "gw-a", "11.25")
	b := write("b.yaml", "gw-a", "11.26")
	bad := write("bad.yaml", "gw-c", "999")
	cases := []struct {
		name  string
		paths []string
		want  []string
	}{
		{"same gateway twice", []string{a, b}, []string{`b.yaml: gateway.id: "gw-a" is also the gateway of ` + a}},
		{"bad file and missing file", []string{bad, filepath.Join(dir, "none.yaml")},
			[]string{"bad.yaml:4: devices[0].location.lon: 999 is out of range", "none.yaml"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := LoadInventory(c.paths, Options{Offline: true, ProfilesDir: shippedProfiles})
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error:\n%v\nwant it to contain %q", err, w)
				}
			}
		})
	}
}

// TestInventoryProfileOnce: the site configs of one inventory share a
// profile they all use (parsed once); a profile that does not load is
// reported for every config using it; a later inventory reads the
// profiles again.
func TestInventoryProfileOnce(t *testing.T) {
	dir, profiles := t.TempDir(), t.TempDir()
	data, err := os.ReadFile(filepath.Join(shippedProfiles, "eastron-sdm630-v2.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(profiles, "meter.yaml"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(profiles, "broken.yaml"), []byte("model: [\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	write := func(gw, prof string) string {
		y := "gateway: {id: " + gw + "}\nuplink: {broker: tcp://127.0.0.1:1883}\ndevices:\n" +
			"  - {name: m1, profile: " + prof + ", address: \"tcp://127.0.0.1:502\", unit: 1, location: {lon: 11.25, lat: 43.77}}\n"
		p := filepath.Join(dir, gw+".yaml")
		if err := os.WriteFile(p, []byte(y), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	paths := []string{write("gw-a", "meter"), write("gw-b", "meter"), write("gw-c", "meter")}
	opt := Options{Offline: true, ProfilesDir: profiles}
	inv, err := LoadInventory(paths, opt)
	if err != nil {
		t.Fatal(err)
	}
	first, _ := inv.Device("gw-a", "m1")
	for _, gw := range []string{"gw-b", "gw-c"} {
		if d, _ := inv.Device(gw, "m1"); d.LoadedProfile() == nil || d.LoadedProfile() != first.LoadedProfile() {
			t.Errorf("%s's profile %p, gw-a's %p: want one parse", gw, d.LoadedProfile(), first.LoadedProfile())
		}
	}
	again, err := LoadInventory(paths[:1], opt)
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := again.Device("gw-a", "m1"); d.LoadedProfile() == first.LoadedProfile() {
		t.Error("a later inventory reused the earlier one's profile")
	}
	_, err = LoadInventory([]string{write("gw-d", "broken"), write("gw-e", "broken")}, opt)
	for _, name := range []string{"gw-d.yaml", "gw-e.yaml"} {
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("the broken profile not reported for %s: %v", name, err)
		}
	}
}
