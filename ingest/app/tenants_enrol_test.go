package app_test

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ponte-city/ponte/ingest/app"
	"github.com/ponte-city/ponte/ingest/config"
	"github.com/ponte-city/ponte/ingest/enrol"
	"github.com/ponte-city/ponte/ingest/ingesttest"
	"github.com/ponte-city/ponte/internal/testenv"
	"github.com/ponte-city/ponte/twin"
	"github.com/ponte-city/ponte/wire"
)

// TestTenantFromEnrolment: a tenant's operator issues an enrolment token
// (for its tenant, without naming it; another tenant or a gateway the
// configuration gives to another is refused); the gateway enrolled with it
// belongs to that tenant: its sites are on that tenant's entities and not
// on another's, also after a restart, and only that tenant's operators
// list and revoke it.
func TestTenantFromEnrolment(t *testing.T) {
	testenv.Integration(t, "ingest with its embedded broker")
	dir := t.TempDir()
	certFile, keyFile, pool := testenv.SelfSigned(t, dir, "ponte-ingest")
	y := fmt.Sprintf(`broker: {listen: 127.0.0.1:0, client_id: ingest-under-test}
influx: {url: "http://127.0.0.1:9"}
http:
  listen: 127.0.0.1:0
  ops_listen: 127.0.0.1:0
  tls: {cert_file: %s, key_file: %s}
state_dir: %s
dead_letter: {dir: %s}
profiles: %s
twin:
  areas: [%s, %s]
  tokens: [%s]
tenants:
  - {id: firenze, name: Comune di Firenze, areas: ["048017"], gateway_prefixes: [fi-], tokens: [%s]}
  - {id: bari, name: Comune di Bari, areas: ["072006"], tokens: [%s]}
enrolment:
  dir: %s
`, certFile, keyFile, filepath.Join(dir, "state"), filepath.Join(dir, "dead"), absPath(t, "../../firmware-profiles"),
		absPath(t, "../../geo/data/firenze-metro-municipalities.geojson"), absPath(t, "../../geo/data/bari-metro-municipalities.geojson"),
		cityToken, firenzeToken, bariToken, filepath.Join(dir, "registry"))
	path := filepath.Join(dir, "ingest.yaml")
	if err := os.WriteFile(path, []byte(y), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	addrs, stop := runUntil(t, cfg, app.Options{Sink: ingesttest.NewMemSink()})
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	call := func(method, path, auth string, body any) (int, string) {
		t.Helper()
		var rd io.Reader
		if body != nil {
			b, _ := json.Marshal(body)
			rd = bytes.NewReader(b)
		}
		req, _ := http.NewRequest(method, "https://"+addrs.HTTP+path, rd)
		req.Header.Set("Authorization", "Bearer "+auth)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	// Refusals: another tenant, a gateway the configuration gives to
	// Firenze, an unknown tenant.
	for _, c := range []struct {
		token string
		req   enrol.TokenRequest
		code  int
		says  string
	}{
		{bariToken, enrol.TokenRequest{Prefix: "ba-bitonto-", Tenant: "firenze"}, http.StatusForbidden, `tenant "firenze": your token acts for bari only`},
		{bariToken, enrol.TokenRequest{Gateway: "fi-centro-9"}, http.StatusConflict, "gateway fi-centro-9 is not available to tenant bari"},
		{cityToken, enrol.TokenRequest{Gateway: "ba-x", Tenant: "roma"}, http.StatusConflict, `no tenant "roma"`},
	} {
		code, body := call("POST", "/api/v1/enrolment/tokens", c.token, c.req)
		var e struct{ Error string }
		_ = json.Unmarshal([]byte(body), &e)
		if code != c.code || !strings.Contains(e.Error, c.says) {
			t.Errorf("token %+v: %d %s, want %d saying %q", c.req, code, body, c.code, c.says)
		}
	}

	// Bari's operator issues a token for Bitonto's gateways: it is Bari's.
	code, body := call("POST", "/api/v1/enrolment/tokens", bariToken, enrol.TokenRequest{Prefix: "ba-bitonto-"})
	var tok enrol.TokenResponse
	if code != http.StatusCreated || json.Unmarshal([]byte(body), &tok) != nil || tok.Scope.Tenant != "bari" {
		t.Fatalf("Bari's token: %d %s", code, body)
	}
	siteYAML := fmt.Sprintf("gateway:\n  id: ba-bitonto-1\nuplink:\n  broker: tcp://127.0.0.1:1883\nbuffer:\n  dir: %s\ndevices:\n  - {name: meter-1, profile: eastron-sdm630-v2, address: \"tcp://127.0.0.1:502\", unit: 1, location: {lon: 16.8716, lat: 41.1177}, entity: \"urn:ngsi-ld:Streetlight:ba-bitonto-1\"}\n",
		filepath.Join(dir, "buf"))
	code, body = call("POST", wire.EnrolPath, tok.Secret, wire.EnrolRequest{File: "ba-bitonto-1.yaml", Site: siteYAML})
	if code != http.StatusCreated {
		t.Fatalf("enrol: %d %s", code, body)
	}
	const entity = "urn:ngsi-ld:Streetlight:ba-bitonto-1"
	check := func(when string) {
		t.Helper()
		for _, c := range []struct {
			token string
			sees  bool
		}{{bariToken, true}, {cityToken, true}, {firenzeToken, false}} {
			code, _ := call("GET", "/api/v1/entities/"+entity, c.token, nil)
			if (code == http.StatusOK) != c.sees {
				t.Errorf("%s: entity with %s: %d, want seen %v", when, c.token[:4], code, c.sees)
			}
			_, list := call("GET", "/api/v1/enrolment/gateways", c.token, nil)
			if strings.Contains(list, "ba-bitonto-1") != c.sees {
				t.Errorf("%s: enrolment list with %s: %s", when, c.token[:4], list)
			}
		}
		if got := addrs.Twin.(*twin.Twin).TenantOf("ba-bitonto-1"); got != "bari" {
			t.Errorf("%s: tenant %q, want bari", when, got)
		}
	}
	testenv.Eventually(t, 10*time.Second, "the enrolled site on the twin", func() bool {
		_, ok := addrs.Twin.Entity(entity)
		return ok
	})
	check("after enrolment")

	// Firenze's operator cannot take Bari's gateway: no token for it, and
	// the refusal does not say whose it is.
	code, body = call("POST", "/api/v1/enrolment/tokens", firenzeToken, enrol.TokenRequest{Gateway: "ba-bitonto-1"})
	if code != http.StatusConflict || strings.Contains(body, "bari") {
		t.Errorf("Firenze asks for a token for Bari's gateway: %d %s, want 409 naming no tenant but its own", code, body)
	}
	code, body = call("POST", "/api/v1/enrolment/tokens", firenzeToken, enrol.TokenRequest{Prefix: "ba-"})
	if code != http.StatusConflict {
		t.Errorf("Firenze asks for a token for ba-*: %d %s, want 409", code, body)
	}
	// A gateway the platform enrolled without a tenant is not Firenze's to
	// take either: its token is refused at enrolment.
	code, body = call("POST", "/api/v1/enrolment/tokens", cityToken, enrol.TokenRequest{Gateway: "gw-loose-1"})
	var cityTok enrol.TokenResponse
	if code != http.StatusCreated || json.Unmarshal([]byte(body), &cityTok) != nil {
		t.Fatalf("city's token: %d %s", code, body)
	}
	loose := strings.ReplaceAll(strings.ReplaceAll(siteYAML, "ba-bitonto-1", "gw-loose-1"), "Streetlight:gw-loose-1", "Streetlight:loose")
	if code, body = call("POST", wire.EnrolPath, cityTok.Secret, wire.EnrolRequest{File: "gw-loose-1.yaml", Site: loose}); code != http.StatusCreated {
		t.Fatalf("enrol the loose gateway: %d %s", code, body)
	}
	code, body = call("POST", "/api/v1/enrolment/tokens", firenzeToken, enrol.TokenRequest{Gateway: "gw-loose-1"})
	if code != http.StatusCreated || json.Unmarshal([]byte(body), &tok) != nil {
		t.Fatalf("Firenze's token for a new-looking ID: %d %s", code, body)
	}
	if code, body = call("POST", wire.EnrolPath, tok.Secret, wire.EnrolRequest{File: "gw-loose-1.yaml", Site: loose}); code != http.StatusConflict || !strings.Contains(body, "is enrolled and not tenant firenze's") {
		t.Errorf("Firenze's token takes the platform's gateway: %d %s, want 409", code, body)
	}
	if got := addrs.Twin.(*twin.Twin).TenantOf("gw-loose-1"); got != "" {
		t.Errorf("the loose gateway's tenant: %q, want none", got)
	}

	stop()
	addrs, _ = runUntil(t, cfg, app.Options{Sink: ingesttest.NewMemSink()})
	check("after a restart")

	if code, body := call("POST", "/api/v1/enrolment/gateways/ba-bitonto-1/revoke", firenzeToken, nil); code != http.StatusNotFound {
		t.Errorf("Firenze revokes Bari's gateway: %d %s", code, body)
	}
	if code, body := call("POST", "/api/v1/enrolment/gateways/ba-bitonto-1/revoke", bariToken, nil); code != http.StatusOK {
		t.Errorf("Bari revokes its gateway: %d %s", code, body)
	}
	if _, list := call("GET", "/api/v1/enrolment/gateways", bariToken, nil); !strings.Contains(list, `"revoked":"`) {
		t.Errorf("Bari's list after the revocation: %s", list)
	}
}
