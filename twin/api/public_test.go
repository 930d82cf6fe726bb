package api

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/ponte-city/ponte/twin"
)

func TestNegotiate(t *testing.T) {
	langs := []string{"it", "en"}
	cases := []struct{ header, want string }{
		{"", ""},
		{"en-US,en;q=0.9", "en"},
		{"it-IT,it;q=0.9,en;q=0.8", "it"},
		{"de-DE,de;q=0.9,en;q=0.5", "en"},
		{"en;q=0.3, it;q=0.7", "it"},
		{"fr, *;q=0.1", "it"}, // * is the default
		{"en;q=0", ""},
		{"en;q=bogus, it", "it"},
		{"EN-gb", "en"},
		{"de", ""},
	}
	for _, c := range cases {
		if got := negotiate(c.header, langs, "it"); got != c.want {
			t.Errorf("negotiate(%q) = %q, want %q", c.header, got, c.want)
		}
	}
}

// TestPublicConfig: /config gives the negotiated language (?lang= first,
// then Accept-Language, then the default), the time zone and the licence.
func TestPublicConfig(t *testing.T) {
	srv, _ := newTestServer(t, newFakeReader(), nil)
	cases := []struct {
		name, query, accept, want string
	}{
		{"default", "", "", "it"},
		{"accept english", "", "en-GB,en;q=0.9", "en"},
		{"accept german falls back", "", "de", "it"},
		{"lang wins", "?lang=it", "en-US", "it"},
		{"lang en", "?lang=en", "it", "en"},
		{"unknown lang ignored", "?lang=xx", "en", "en"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, body := get(t, srv.URL+"/api/v1/config"+c.query, "", map[string]string{"Accept-Language": c.accept})
			var got configAnswer
			if err := json.Unmarshal(body, &got); err != nil || resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d: %s (%v)", resp.StatusCode, body, err)
			}
			if got.Language != c.want || got.DefaultLanguage != "it" || got.TimeZone != "Europe/Rome" || got.Licence.Name != DefaultLicenceName {
				t.Errorf("config %+v, want language %s", got, c.want)
			}
			if !strings.Contains(strings.Join(resp.Header.Values("Vary"), ","), "Accept-Language") {
				t.Errorf("Vary %v lacks Accept-Language", resp.Header.Values("Vary"))
			}
		})
	}
}

// TestPublicConfigErrors: a time zone, language or licence URL the API
// cannot use is refused by New, naming the field.
func TestPublicConfigErrors(t *testing.T) {
	for _, c := range []struct {
		name string
		p    Public
		want string
	}{
		{"zone", Public{TimeZone: "Europe/Firenze"}, "config.Public.TimeZone: \"Europe/Firenze\" is not a time zone"},
		{"language", Public{Language: "fr"}, "config.Public.Language: \"fr\", want one of [it en]"},
		{"licence", Public{Licence: Licence{Name: "x", URL: "ftp://x"}}, "config.Public.Licence.URL"},
		{"proxy", Public{TrustedProxies: []netip.Prefix{{}}}, "config.Public.TrustedProxies[0]"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := New(Config{Reader: newFakeReader(), Tokens: []string{testToken}, Public: c.p})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("New: %v, want %q", err, c.want)
			}
		})
	}
}

// TestIndicatorsLanguageAndDefinitions: the definitions come once per
// answer, in the negotiated language, and the licence is in the body
// and the Link header of every public answer.
func TestIndicatorsLanguageAndDefinitions(t *testing.T) {
	fake := newFakeReader()
	ind := fixtureIndicators()
	v := 52.0
	for i := range ind.Areas {
		ind.Areas[i].Indicators = append(ind.Areas[i].Indicators, twin.Indicator{Name: twin.IndNoiseLAeqMean, Value: &v, Unit: "dB", Sensors: 1, Window: "latest", Definition: "English"})
	}
	fake.setIndicators(ind)
	srv, _ := newTestServer(t, fake, func(c *Config) {
		c.Public.Licence = Licence{Name: "IODL 2.0", URL: "https://www.dati.gov.it/iodl/2.0/", Attribution: "Comune di Firenze"}
	})
	for _, c := range []struct{ accept, query, lang, label string }{
		{"", "", "it", "Rumore (LAeq)"},
		{"en-US,en;q=0.9", "", "en", "Noise (LAeq)"},
		{"en-US", "?lang=it", "it", "Rumore (LAeq)"},
	} {
		_, body := get(t, srv.URL+"/api/v1/indicators"+c.query, "", map[string]string{"Accept-Language": c.accept})
		var got publicIndicators
		if err := json.Unmarshal(body, &got); err != nil {
			t.Fatal(err)
		}
		if got.Language != c.lang || got.Licence.Name != "IODL 2.0" || got.Licence.Attribution != "Comune di Firenze" {
			t.Errorf("%q: language %s licence %+v", c.accept, got.Language, got.Licence)
		}
		noise := 0
		for _, d := range got.Definitions {
			if d.Name == twin.IndNoiseLAeqMean {
				noise++
				if d.Label != c.label || d.Definition == "" || d.Definition == "English" && c.lang == "it" {
					t.Errorf("%q: definition %+v, want label %q", c.accept, d, c.label)
				}
			}
		}
		if noise != 1 || strings.Count(string(body), `"definition"`) != len(got.Definitions) {
			t.Errorf("%q: noise defined %d times, %d definitions for %d \"definition\" keys: %s", c.accept, noise, len(got.Definitions), strings.Count(string(body), `"definition"`), body)
		}
	}
	for _, path := range []string{"/api/v1/indicators", "/api/v1/indicators.csv", "/api/v1/areas.geojson", "/api/v1/config"} {
		resp, body := get(t, srv.URL+path, "", nil)
		if l := resp.Header.Get("Link"); l != `<https://www.dati.gov.it/iodl/2.0/>; rel="license"; title="IODL 2.0"` {
			t.Errorf("%s: Link %q", path, l)
		}
		if path != "/api/v1/indicators.csv" && !bytes.Contains(body, []byte(`"licence":{"name":"IODL 2.0"`)) {
			t.Errorf("%s: no licence in %s", path, body)
		}
	}
}

// TestIndicatorsETagStable: the ETag does not move while the data stay
// the same, though the twin stamps each read with the time; it moves
// when a value changes.
func TestIndicatorsETagStable(t *testing.T) {
	fake := newFakeReader()
	ind := fixtureIndicators()
	fake.setIndicators(ind)
	now := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	srv, _ := newTestServer(t, fake, nil)
	var etags []string
	for i := range 3 {
		ind.Generated = now.Add(time.Duration(i) * time.Second) // as twin.Indicators does
		fake.setIndicators(ind)
		resp, _ := get(t, srv.URL+"/api/v1/indicators", "", nil)
		etags = append(etags, resp.Header.Get("ETag"))
	}
	if etags[0] == "" || etags[0] != etags[1] || etags[1] != etags[2] {
		t.Fatalf("ETags %v moved with the clock alone", etags)
	}
	resp, _ := get(t, srv.URL+"/api/v1/indicators", "", map[string]string{"If-None-Match": etags[0]})
	if resp.StatusCode != http.StatusNotModified {
		t.Errorf("unchanged data: status %d, want 304", resp.StatusCode)
	}
	*ind.Areas[0].Indicators[0].Value += 1
	fake.setIndicators(ind)
	resp, _ = get(t, srv.URL+"/api/v1/indicators", "", map[string]string{"If-None-Match": etags[0]})
	if resp.StatusCode != http.StatusOK || resp.Header.Get("ETag") == etags[0] {
		t.Errorf("changed value: status %d ETag %q (old %q)", resp.StatusCode, resp.Header.Get("ETag"), etags[0])
	}
}

// TestPublicGzip: a large public answer is gzipped for a client that
// accepts it, with its own ETag, and decompresses to the plain answer.
func TestPublicGzip(t *testing.T) {
	fake := newFakeReader()
	ind := fixtureIndicators()
	for i := range 200 { // a metropolitan area's worth of areas
		ind.Areas = append(ind.Areas, twin.AreaIndicators{ID: "a" + strings.Repeat("x", i%7) + string(rune('a'+i%26)), Name: "Area", Indicators: ind.City})
	}
	fake.setIndicators(ind)
	srv, _ := newTestServer(t, fake, nil)
	for _, path := range []string{"/api/v1/indicators", "/api/v1/indicators.csv"} {
		plainResp, plain := get(t, srv.URL+path, "", map[string]string{"Accept-Encoding": "identity"})
		zResp, z := get(t, srv.URL+path, "", map[string]string{"Accept-Encoding": "br, gzip;q=0.8"})
		if plainResp.Header.Get("Content-Encoding") != "" || zResp.Header.Get("Content-Encoding") != "gzip" {
			t.Fatalf("%s: encodings %q and %q", path, plainResp.Header.Get("Content-Encoding"), zResp.Header.Get("Content-Encoding"))
		}
		zr, err := gzip.NewReader(bytes.NewReader(z))
		if err != nil {
			t.Fatal(err)
		}
		unz, err := io.ReadAll(zr)
		if err != nil || !bytes.Equal(unz, plain) {
			t.Errorf("%s: gunzipped answer differs (%v)", path, err)
		}
		if len(z)*3 > len(plain) {
			t.Errorf("%s: %d gzipped bytes for %d", path, len(z), len(plain))
		}
		if zResp.Header.Get("ETag") == plainResp.Header.Get("ETag") {
			t.Errorf("%s: gzip and plain share ETag %s", path, zResp.Header.Get("ETag"))
		}
		r304, _ := get(t, srv.URL+path, "", map[string]string{"Accept-Encoding": "gzip", "If-None-Match": zResp.Header.Get("ETag")})
		if r304.StatusCode != http.StatusNotModified {
			t.Errorf("%s: revalidation of the gzip ETag: %d", path, r304.StatusCode)
		}
	}
	// A small answer is sent plain.
	resp, _ := get(t, srv.URL+"/api/v1/config", "", map[string]string{"Accept-Encoding": "gzip"})
	if resp.Header.Get("Content-Encoding") != "" {
		t.Errorf("config gzipped")
	}
}

// TestTrustedProxies: behind a trusted proxy the client is the rightmost
// untrusted X-Forwarded-For address; from anywhere else the header is
// ignored.
func TestTrustedProxies(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	a := &API{cfg: Config{Public: Public{TrustedProxies: trusted}}}
	cases := []struct {
		remote, xff, want string
	}{
		{"203.0.113.9:5000", "198.51.100.1", "203.0.113.9"},                  // not a proxy: header ignored
		{"10.1.2.3:5000", "198.51.100.1", "198.51.100.1"},                    // one proxy
		{"10.1.2.3:5000", "1.2.3.4, 198.51.100.1, 10.9.9.9", "198.51.100.1"}, // forged left part skipped
		{"10.1.2.3:5000", "", "10.1.2.3"},                                    // the proxy itself
		{"10.1.2.3:5000", "garbage, 198.51.100.7", "198.51.100.7"},
		{"[::1]:5000", "2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"},
	}
	for _, c := range cases {
		r := &http.Request{RemoteAddr: c.remote, Header: http.Header{}}
		if c.xff != "" {
			r.Header.Set("X-Forwarded-For", c.xff)
		}
		if got := a.clientIP(r); got != c.want {
			t.Errorf("clientIP(%s, %q) = %q, want %q", c.remote, c.xff, got, c.want)
		}
	}
	// And the rate limit counts clients behind the proxy apart.
	srv, _ := newTestServer(t, newFakeReader(), func(c *Config) {
		c.PublicBurst, c.PublicRate = 1, 0.001
		c.Public.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	})
	for _, ip := range []string{"198.51.100.1", "198.51.100.2"} {
		if resp, _ := get(t, srv.URL+"/api/v1/config", "", map[string]string{"X-Forwarded-For": ip}); resp.StatusCode != http.StatusOK {
			t.Errorf("first request of %s: %d", ip, resp.StatusCode)
		}
	}
	if resp, _ := get(t, srv.URL+"/api/v1/config", "", map[string]string{"X-Forwarded-For": "198.51.100.1"}); resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("second request of one client: %d, want 429", resp.StatusCode)
	}
}
