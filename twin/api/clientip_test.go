package api

import (
	"net/http"
	"testing"
)

func TestClientIP(t *testing.T) {
	cases := map[string]string{
		"192.0.2.7:5000":                  "192.0.2.7",
		"[2001:db8:1:2:aaaa::1]:443":      "2001:db8:1:2::/64",
		"[2001:db8:1:2:bbbb:cccc::9]:443": "2001:db8:1:2::/64", // same /64: same bucket
		"[::ffff:192.0.2.7]:80":           "::ffff:192.0.2.7",
		"not an address":                  "not an address",
	}
	for remote, want := range cases {
		if got := (&API{}).clientIP(&http.Request{RemoteAddr: remote}); got != want {
			t.Errorf("clientIP(%q) = %q, want %q", remote, got, want)
		}
	}
}
