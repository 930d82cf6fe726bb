package natskv

import "testing"

func TestKeyAndBucket(t *testing.T) {
	for id, want := range map[string]string{"gw-1_a": "gw-1_a", "site.a": "site=2Ea", "a=b": "a=3Db", "è": "=C3=A8"} {
		if got := Key(id); got != want {
			t.Errorf("Key(%q) = %q, want %q", id, got, want)
		}
	}
	if Key("a.b") == Key("a_b") || Key("a.b") == Key("a=2Eb.") {
		t.Error("two IDs share a key")
	}
	for b, want := range map[string]bool{"ponte-enrol": true, "a_b": true, "": false, "a.b": false, "a b": false} {
		if ValidBucket(b) != want {
			t.Errorf("ValidBucket(%q) = %v", b, !want)
		}
	}
}
