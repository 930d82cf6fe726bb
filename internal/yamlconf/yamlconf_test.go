package yamlconf

import (
	"strings"
	"testing"
	"time"
)

type inner struct {
	Name  string   `yaml:"name"`
	Every Duration `yaml:"every"`
}

type outer struct {
	Title string           `yaml:"title"`
	Port  uint16           `yaml:"port"`
	Count int              `yaml:"count"`
	Ratio float64          `yaml:"ratio"`
	On    bool             `yaml:"on"`
	Items []inner          `yaml:"items"`
	ByKey map[string]inner `yaml:"by_key"`
	Ptr   *inner           `yaml:"ptr"`
}

func TestDecode(t *testing.T) {
	cases := []struct {
		name, in, want string
	}{
		{"ok", "title: t\nitems:\n  - {name: a, every: 2s}\n", ""},
		{"unknown in list", "title: t\nitems:\n  - name: a\n    evry: 2s\n", `f.yaml:4: items[0].evry: unknown field "evry" (expected one of every, name)`},
		{"unknown in map value", "by_key:\n  k:\n    nam: x\n", `f.yaml:3: by_key.k.nam: unknown field "nam"`},
		{"unknown behind pointer", "ptr:\n  x: 1\n", `f.yaml:2: ptr.x: unknown field "x"`},
		{"type", "title: [1, 2]\n", "f.yaml:1: title: expected a string, got a list"},
		{"list expected", "title: t\nitems: x\n", `f.yaml:2: items: expected a list, got "x"`},
		{"uint16 out of range", "title: t\nport: 70000\n", "f.yaml:2: port: 70000 out of range (expected an integer 0..65535)"},
		{"uint16 negative", "port: -1\n", "f.yaml:1: port: -1 out of range (expected an integer 0..65535)"},
		{"int not a number", "title: t\n\ncount: three\n", `f.yaml:3: count: "three" is not an integer (expected an integer)`},
		{"float not a number", "ratio: half\n", `f.yaml:1: ratio: "half" is not a number (expected a number)`},
		{"bool", "on: 1\n", `f.yaml:1: on: 1 is not a boolean (expected true or false)`},
		{"duration number", "items:\n  - every: 5\n", `f.yaml:2: items[0].every: expected a duration string such as "500ms" or "2s", got "5"`},
		{"duration negative", "items:\n  - every: -1s\n", `f.yaml:2: items[0].every: duration must not be negative`},
		{"tab in a list", "title: t\nitems:\n\t- name: a\n", "f.yaml:3: items: YAML syntax: tab character in the indentation"},
		{"tab in an item", "title: t\nitems:\n  - name: a\n\tevery: 1s\n", "f.yaml:4: items[0]: YAML syntax: tab character in the indentation"},
		{"tab after a blank line", "ptr:\n  name: a\n\n\n  \tevery: 2s\n", "f.yaml:5: ptr: YAML syntax: tab character"},
		{"under-indented", "title: t\nitems:\n  - name: a\n    every: 1s\n   name: b\n", "f.yaml:5: items[0].name: YAML syntax: indented 3 spaces, between the blocks of items[0] (4 spaces) and items (2 spaces) (expected 4 or 2 spaces)"},
		{"over-indented", "items:\n  - name: a\n      every: 1s\n", "f.yaml:3: items[0].name: YAML syntax: indented 6 spaces under items[0].name, which has a value on its line (expected 4"},
		{"key among items", "items:\n  - name: a\n  title: x\n", `f.yaml:3: items: YAML syntax: "title: x" at the indentation of the list items`},
		{"item among keys", "title: t\n- a\n", "f.yaml:2: title: YAML syntax: list item among the keys of the top level"},
		{"dedent to nothing", "ptr:\n  name: a\n every: 1s\n", "f.yaml:3: ptr.every: YAML syntax: indented 1 spaces, between the blocks of ptr (2 spaces) and the top level (0 spaces)"},
		{"not a mapping", "- a\n- b\n", "f.yaml:1: expected a YAML mapping at the top level"},
		{"syntax", "title: \"open\n", "f.yaml:2: YAML syntax: found unexpected end of stream"},
		{"empty", "", "f.yaml: empty file"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var v outer
			_, err := Decode("f.yaml", []byte(c.in), &v)
			if c.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if v.Items[0].Every.D() != 2*time.Second {
					t.Fatalf("every = %v", v.Items[0].Every.D())
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want it to contain %q", err, c.want)
			}
		})
	}
}

func TestDocLine(t *testing.T) {
	var v outer
	doc, err := Decode("f.yaml", []byte("title: t\nitems:\n  - name: a\n  - name: b\n    every: 1s\n"), &v)
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]int{
		"title":          1,
		"items[1].name":  4,
		"items[1].every": 5,
		"items[0].every": 3, // absent: reported at its parent
		"nothing.here":   1, // unknown: the document itself
	} {
		if got := doc.Line(path); got != want {
			t.Errorf("Line(%q) = %d, want %d", path, got, want)
		}
	}
	if !doc.Has("items[1].every") || doc.Has("items[0].every") {
		t.Error("Has is wrong")
	}
	if got := doc.Errorf("items[1].every", "too %s", "often").Error(); got != "f.yaml:5: items[1].every: too often" {
		t.Errorf("Errorf = %q", got)
	}
}
