package subs

import (
	"errors"
	"net/url"
	"strings"
	"testing"
)

func TestAllowedEndpoints(t *testing.T) {
	ps, err := parsePatterns([]string{"https://dash.example.org/ngsi/", "*.comune.bari.it:443", "10.1.2.3:8080", "localhost:1026"})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		uri  string
		want bool
	}{
		{"https://dash.example.org/ngsi/notify", true},
		{"https://dash.example.org/ngsi", true},
		{"https://dash.example.org:443/ngsi/x", true},
		{"https://dash.example.org/ngsiX", false}, // a prefix ends at a segment
		{"http://dash.example.org/ngsi/notify", false},
		{"https://dash.example.org:8443/ngsi/notify", false},
		{"https://evil.org/ngsi/notify", false},
		{"https://dati.comune.bari.it/x", true},
		{"http://dati.comune.bari.it:443/x", true},
		{"https://comune.bari.it/x", false},
		{"https://dati.comune.bari.it.evil.org/x", false},
		{"http://10.1.2.3:8080/n", true},
		{"http://10.1.2.3:8081/n", false},
		{"http://127.0.0.1:8080/n", false},
		{"http://LOCALHOST:1026/n", true},
		{"https://dash.example.org//ngsi//notify", true}, // compared cleaned
		// Dot segments climbing out of the prefix, raw or encoded.
		{"https://dash.example.org/ngsi/../admin", false},
		{"https://dash.example.org/ngsi/%2e%2e/admin", false},
		{"https://dash.example.org/ngsi/%2E./admin", false},
		{"https://dash.example.org/ngsi/..%2fadmin", false},
		{"https://dash.example.org/ngsi/%252e%252e/admin", false},
		{"https://dash.example.org/ngsi/..;/admin", false},
		{"https://dash.example.org/ngsi/./notify", false},
		{"https://dash.example.org/ngsi\\..\\admin", false},
		{"https://dash.example.org/ngsi/%5c..%5cadmin", false},
		{"https://dash.example.org/ngsi/..notify", true}, // not a dot segment
	} {
		u, _ := url.Parse(c.uri)
		if got := allowedURL(ps, u); got != c.want {
			t.Errorf("%s allowed = %v, want %v", c.uri, got, c.want)
		}
	}
	if none, _ := parsePatterns(nil); allowedURL(none, &url.URL{Scheme: "http", Host: "127.0.0.1:80"}) {
		t.Error("an empty list allowed loopback")
	}
	for _, bad := range []string{"dash.example.org", "ftp://x/", "http://u:p@x/", "x:0", "*:80", "a*b.org:80", "*x.org:80", "http://x/?q=1", "http://x/a/../b", "http://x/a/%2e%2e/b", "http://x/a\\b"} {
		if _, err := parsePatterns([]string{bad}); err == nil || !strings.Contains(err.Error(), "AllowedEndpoints[0]") {
			t.Errorf("pattern %q: error %v", bad, err)
		}
	}
}

// TestDialControl: internal addresses (loopback, link-local, private,
// CGNAT, ULA, NAT64, multicast, and their IPv4-mapped forms) are refused
// unless a pattern names that IP (or localhost for loopback) and port;
// public addresses pass.
func TestDialControl(t *testing.T) {
	ps, err := parsePatterns([]string{"dash.example.org:8080", "127.0.0.1:9000", "localhost:9100", "[::1]:9200", "http://10.1.2.3:8080/n"})
	if err != nil {
		t.Fatal(err)
	}
	ctl := dialControl(ps)
	for _, c := range []struct {
		addr string
		ok   bool
	}{
		{"127.0.0.1:8080", false}, // dash.example.org rebound to loopback
		{"169.254.169.254:80", false},
		{"[fe80::1]:8080", false},
		{"0.0.0.0:8080", false},
		{"127.0.0.1:9000", true},
		{"127.0.0.1:9001", false},
		{"127.0.0.1:9100", true},
		{"[::1]:9200", true},
		{"[::ffff:127.0.0.1]:9000", true},
		{"10.0.0.7:8080", false}, // RFC 1918, not named
		{"10.1.2.3:8080", true},  // named by its IP literal
		{"[::ffff:10.1.2.3]:8080", true},
		{"10.1.2.3:8081", false},   // named, another port
		{"172.16.5.4:8080", false}, // RFC 1918
		{"192.168.1.1:8080", false},
		{"100.64.0.1:8080", false}, // CGNAT
		{"100.127.255.254:8080", false},
		{"[fd12:3456::1]:8080", false},    // ULA
		{"[fc00::1]:8080", false},         // ULA
		{"[64:ff9b::7f00:1]:8080", false}, // NAT64 of 127.0.0.1
		{"[64:ff9b::5db8:d822]:8080", false},
		{"[::ffff:192.168.1.1]:8080", false}, // IPv4-mapped forms
		{"[::ffff:100.64.0.1]:8080", false},
		{"[::ffff:169.254.169.254]:80", false},
		{"[::ffff:127.0.0.1]:8080", false},
		{"0.1.2.3:8080", false},
		{"[ff02::1]:8080", false},
		{"not an address", false},  // fail closed
		{"100.128.0.1:8080", true}, // just outside CGNAT
		{"172.32.0.1:8080", true},  // just outside 172.16/12
		{"93.184.216.34:8080", true},
		{"[2a00:1450:4002::5]:8080", true},
	} {
		err := ctl("tcp", c.addr, nil)
		if (err == nil) != c.ok || (err != nil && !errors.Is(err, errInternalAddress)) {
			t.Errorf("dial %s: %v, want ok=%v", c.addr, err, c.ok)
		}
	}
}
