package yamlconf

import (
	"errors"
	"testing"
)

// FuzzDecode feeds arbitrary text to Decode: it must never panic, and
// every error it returns must be a *FieldError naming the file.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		"title: t\nitems:\n  - {name: a, every: 2s}\n",
		"title: t\nitems:\n\t- name: a\n",
		"items:\n  - name: a\n      every: 1s\n   x: 1\n",
		"port: 70000\ncount: three\nratio: x\non: 2\n",
		"ptr: &a\n  name: x\nby_key:\n  k: *a\n",
		"source: |\n  text\n\tmore\ntitle: \"x\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var v outer
		_, err := Decode("f.yaml", data, &v)
		if err == nil {
			return
		}
		errs := []error{err}
		if list, ok := err.(interface{ Unwrap() []error }); ok {
			errs = list.Unwrap()
		}
		for _, e := range errs {
			var fe *FieldError
			if !errors.As(e, &fe) || fe.File != "f.yaml" {
				t.Fatalf("error %v is not a FieldError of f.yaml", e)
			}
		}
	})
}
