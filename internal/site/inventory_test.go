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
