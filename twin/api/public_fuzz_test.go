package api

import (
	"net/http"
	"net/netip"
	"testing"
)

// FuzzNegotiate: any Accept-Language header gives a supported language or
// nothing, and never panics.
func FuzzNegotiate(f *testing.F) {
	for _, s := range []string{"", "it-IT,it;q=0.9,en;q=0.8", "*;q=0.1", "en;q=", ";;,,", "en;q=1e309", "x-y-z;q=-1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		if got := negotiate(h, []string{"it", "en"}, "it"); got != "" && got != "it" && got != "en" {
			t.Fatalf("negotiate(%q) = %q", h, got)
		}
	})
}

// FuzzForwardedClient: any X-Forwarded-For from a trusted proxy gives an
// address that parses, and never panics.
func FuzzForwardedClient(f *testing.F) {
	for _, s := range []string{"", "1.2.3.4", "1.2.3.4, 10.0.0.1", "garbage", "::ffff:1.2.3.4, ::1", ",,,"} {
		f.Add(s)
	}
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	f.Fuzz(func(t *testing.T, xff string) {
		r := &http.Request{RemoteAddr: "10.0.0.2:4000", Header: http.Header{"X-Forwarded-For": {xff}}}
		got := forwardedClient(r, trusted)
		if _, err := netip.ParseAddr(got); err != nil {
			t.Fatalf("forwardedClient(%q) = %q, not an address", xff, got)
		}
	})
}
