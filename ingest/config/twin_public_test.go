package config

import (
	"net/netip"
	"slices"
	"testing"

	"github.com/ponte-city/ponte/internal/testenv"
)

// TestTwinPublicErrors runs testdata/twin-public/<case>/: config.yaml
// must fail with expected.err, each error at its file and line.
func TestTwinPublicErrors(t *testing.T) {
	testenv.ErrorCases(t, "testdata/twin-public/*/config.yaml", func(t *testing.T, path string) error {
		_, err := Load(path)
		return err
	})
}

// TestTwinPublicDefaults: a twin section that says nothing of the public
// gets Italian, Europe/Rome and the default rate; one that does keeps it.
func TestTwinPublicDefaults(t *testing.T) {
	base := "influx:\n  url: http://i:8086\ntwin:\n  areas: [../../geo/data/firenze-metro-municipalities.geojson]\n  tokens: [operator-token-0123]\n"
	c, err := Parse("ok.yaml", []byte(base))
	if err != nil {
		t.Fatal(err)
	}
	p := c.Twin.Public
	if r, b := p.PublicRate(); p.Lang() != "it" || p.Zone() != "Europe/Rome" || r != DefaultPublicRate || b != DefaultPublicBurst || p.TrustedProxies() != nil {
		t.Errorf("defaults: %s %s %v %d %v", p.Lang(), p.Zone(), r, b, p.TrustedProxies())
	}
	c, err = Parse("ok.yaml", []byte(base+"  language: en\n  time_zone: Europe/Berlin\n  licence:\n    name: IODL 2.0\n    url: https://www.dati.gov.it/iodl/2.0/\n"+
		"  public_api:\n    rate: 0.5\n    burst: 3\n    trusted_proxies: [127.0.0.1, 10.1.2.0/24, \"::1\"]\n"))
	if err != nil {
		t.Fatal(err)
	}
	p = c.Twin.Public
	want := []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("10.1.2.0/24"), netip.MustParsePrefix("::1/128")}
	if r, b := p.PublicRate(); p.Lang() != "en" || p.Zone() != "Europe/Berlin" || r != 0.5 || b != 3 || !slices.Equal(p.TrustedProxies(), want) || p.Licence.Name != "IODL 2.0" {
		t.Errorf("set: %s %s %v %d %v %+v", p.Lang(), p.Zone(), r, b, p.TrustedProxies(), p.Licence)
	}
}
