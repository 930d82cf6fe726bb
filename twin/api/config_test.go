package api

import (
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/paulmach/orb"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ponte-city/ponte/twin"
)

func TestConfigValidate(t *testing.T) {
	fake := newFakeReader()
	cases := []struct {
		name string
		cfg  Config
		want string
	}{
		{"no reader", Config{Tokens: []string{"t"}}, "config.Reader: the twin is required"},
		{"no tokens", Config{Reader: fake}, "config.Tokens: at least one operator token is required"},
		{"empty token", Config{Reader: fake, Tokens: []string{"a", ""}}, "config.Tokens[1]: must be non-empty"},
		{"token with space", Config{Reader: fake, Tokens: []string{"a b"}}, "config.Tokens[0]: must be non-empty without white space"},
		{"negative rate", Config{Reader: fake, Tokens: []string{"a"}, PublicRate: -1}, "config.PublicRate: -1"},
		{"negative burst", Config{Reader: fake, Tokens: []string{"a"}, PublicBurst: -1}, "config.PublicBurst: -1"},
		{"negative streams", Config{Reader: fake, Tokens: []string{"a"}, MaxStreams: -1}, "config.MaxStreams: -1"},
		{"negative heartbeat", Config{Reader: fake, Tokens: []string{"a"}, Heartbeat: -1}, "config.Heartbeat: -1ns"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := New(c.cfg)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want %q", err, c.want)
			}
		})
	}
	t.Run("defaults", func(t *testing.T) {
		a, err := New(Config{Reader: fake, Tokens: []string{"a"}})
		if err != nil {
			t.Fatal(err)
		}
		if a.cfg.PublicRate != DefaultPublicRate || a.cfg.PublicBurst != DefaultPublicBurst || a.cfg.MaxStreams != DefaultMaxStreams || a.cfg.Heartbeat != DefaultHeartbeat {
			t.Errorf("defaults %+v", a.cfg)
		}
	})
	t.Run("metrics registered once", func(t *testing.T) {
		reg := prometheus.NewRegistry()
		if _, err := New(Config{Reader: fake, Tokens: []string{"a"}, Registerer: reg}); err != nil {
			t.Fatal(err)
		}
		if _, err := New(Config{Reader: fake, Tokens: []string{"a"}, Registerer: reg}); err == nil {
			t.Error("a second API on the same registry registered its metrics again")
		}
	})
}

func TestEntitiesGzip(t *testing.T) {
	var ents []twin.Entity
	for i := range 200 {
		e := siteAir
		e.ID = "site-" + strconv.Itoa(i)
		e.Geometry = orb.Point{11 + float64(i)/1000, 43.7}
		ents = append(ents, e)
	}
	srv, _ := newTestServer(t, newFakeReader(ents...), nil)
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/api/v1/entities", nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := (&http.Transport{DisableCompression: true}).RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("Content-Encoding %q", resp.Header.Get("Content-Encoding"))
	}
	zr, err := gzip.NewReader(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	var fc testCollection
	if err := json.Unmarshal(body, &fc); err != nil || len(fc.Features) != 200 {
		t.Fatalf("%d features, %v", len(fc.Features), err)
	}
	for _, h := range []string{"gzip;q=0", "identity", ""} {
		if acceptsGzip(h) {
			t.Errorf("acceptsGzip(%q)", h)
		}
	}
	if !acceptsGzip("br, gzip;q=0.8") {
		t.Error("gzip;q=0.8 refused")
	}
}
