package system_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/ponte-city/ponte/edge/ctl"
	"github.com/ponte-city/ponte/ingest/config"
	"github.com/ponte-city/ponte/ingest/opsctl"
	"github.com/ponte-city/ponte/internal/testenv"
)

// The enrolled gateway's devices: two energy meters near Santa Croce,
// served by one simulated Modbus TCP server; the second joins at the
// re-enrolment.
var enrolDevices = []e2eDevice{
	{"fi-sc-meter-1", "eastron-sdm630-v2", "ADDR", 1, "", "1s", 11.26200, 43.76850, "urn:ngsi-ld:StreetlightControlCabinet:fi-sc-1"},
	{"fi-sc-meter-2", "eastron-sdm630-v2", "ADDR", 2, "", "1s", 11.26300, 43.76900, "urn:ngsi-ld:StreetlightControlCabinet:fi-sc-2"},
}

const enrolGW = "fi-enrol-01"

// enrolSite is the gateway's site config as a technician writes it: the
// password file is where ponte-ctl enroll puts the password.
func enrolSite(broker, pwFile, bufDir, modbusAddr string, devs []e2eDevice) string {
	s := siteYAML(enrolGW, broker, "PLACEHOLDER", bufDir, modbusAddr, devs)
	return strings.Replace(s, "password: PLACEHOLDER", "password_file: "+pwFile, 1)
}

// run runs a ponte-ctl command line and returns its status and output.
func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	env := ctl.Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb,
		Commands: map[string]func(context.Context, ctl.Env, []string) int{
			"enrolment": func(ctx context.Context, env ctl.Env, args []string) int {
				return opsctl.Enrolment(ctx, opsctl.Env{Stdout: env.Stdout, Stderr: env.Stderr}, args)
			},
		}}
	code := ctl.Run(context.Background(), env, args)
	t.Logf("ponte-ctl %s -> %d\n%s%s", strings.Join(args, " "), code, out.String(), errb.String())
	return code, out.String(), errb.String()
}

// connectOnce makes one MQTT connection attempt, no retry.
func connectOnce(brokerURL, user, pass string) error {
	o := mqtt.NewClientOptions().AddBroker(brokerURL).SetClientID("ponte-edge-" + user).SetUsername(user).SetPassword(pass).
		SetAutoReconnect(false).SetConnectRetry(false).SetConnectTimeout(5 * time.Second)
	c := mqtt.NewClient(o)
	tok := c.Connect()
	if !tok.WaitTimeout(10 * time.Second) {
		return fmt.Errorf("no answer")
	}
	if tok.Error() == nil {
		c.Disconnect(0)
	}
	return tok.Error()
}

// TestEnrolmentEndToEnd: an operator issues a token; the technician's
// ponte-ctl enroll registers the gateway over HTTPS; its devices appear on
// the twin's entities API at once and its agent delivers with the
// credentials enroll wrote. A used token is refused; re-enrolling with a
// new token adds a device (on the map at once) and rotates the password;
// a revoked gateway's connection is closed and its reconnect refused.
func TestEnrolmentEndToEnd(t *testing.T) {
	testenv.Integration(t, "ingest with its embedded broker and an edge agent in-process")
	dir := t.TempDir()
	certFile, keyFile, pool := testenv.SelfSigned(t, dir, "ponte-ingest")
	modbusAddr := startModbusDevices(t, enrolDevices)
	ingestYAML := fmt.Sprintf(`broker:
  listen: 127.0.0.1:0
  client_id: ingest-e2e
influx:
  url: http://127.0.0.1:9
http:
  listen: 127.0.0.1:0
  ops_listen: 127.0.0.1:0
  tls: {cert_file: %s, key_file: %s}
state_dir: %s
dead_letter:
  dir: %s
profiles: %s
twin:
  areas: [%s]
  stale_factor: 10
  tokens: [%s]
enrolment:
  dir: %s
`, certFile, keyFile, filepath.Join(dir, "state"), filepath.Join(dir, "dead"), absPath(t, "../../firmware-profiles"),
		absPath(t, "../../geo/data/firenze-metro-municipalities.geojson"), e2eToken, filepath.Join(dir, "registry"))
	testenv.WriteFile(t, filepath.Join(dir, "ingest.yaml"), ingestYAML)
	cfg, err := config.Load(filepath.Join(dir, "ingest.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	ing := startIngest(t, cfg)
	base := "https://" + ing.HTTP
	opToken := filepath.Join(dir, "operator.token")
	testenv.WriteFile(t, opToken, e2eToken)
	ops := []string{"--url", base, "--ca", certFile, "--token-file", opToken}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	entity := func(id string) (map[string]any, int) {
		req, _ := http.NewRequest(http.MethodGet, base+"/api/v1/entities/"+url.PathEscape(id), nil)
		req.Header.Set("Authorization", "Bearer "+e2eToken)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var f struct {
			Properties map[string]any `json:"properties"`
		}
		json.NewDecoder(resp.Body).Decode(&f)
		return f.Properties, resp.StatusCode
	}
	issue := func() string {
		t.Helper()
		code, out, _ := run(t, append([]string{"enrolment", "token", "--gateway", enrolGW, "--ttl", "1h"}, ops...)...)
		if code != 0 || !strings.HasPrefix(out, "pte1.") {
			t.Fatalf("token: exit %d, %q", code, out)
		}
		p := filepath.Join(dir, fmt.Sprintf("enrol-%d.token", time.Now().UnixNano()))
		testenv.WriteFile(t, p, out)
		return p
	}

	// A stranger gets no token.
	testenv.WriteFile(t, filepath.Join(dir, "wrong.token"), "not-an-operator-token-0123456789")
	if code, _, errOut := run(t, "enrolment", "token", "--gateway", enrolGW, "--url", base, "--ca", certFile, "--token-file", filepath.Join(dir, "wrong.token")); code == 0 || !strings.Contains(errOut, "401") {
		t.Fatalf("a wrong operator token got an enrolment token (exit %d)", code)
	}

	// The technician's site config and enrolment.
	gwDir := filepath.Join(dir, "gw")
	if err := os.MkdirAll(gwDir, 0o755); err != nil {
		t.Fatal(err)
	}
	sitePath, pwFile := filepath.Join(gwDir, "site.yaml"), filepath.Join(gwDir, "uplink.password")
	testenv.WriteFile(t, sitePath, enrolSite(ing.BrokerURL, pwFile, filepath.Join(gwDir, "buffer"), modbusAddr, enrolDevices[:1]))
	if _, status := entity(enrolDevices[0].entity); status != http.StatusNotFound {
		t.Fatalf("the device is on the map before enrolment (%d)", status)
	}
	tok1 := issue()
	enrollArgs := func(tok string) []string {
		return []string{"enroll", sitePath, "--url", base, "--ca", certFile, "--token-file", tok, "--profiles", absPath(t, "../../firmware-profiles"), "--timeout", "30s"}
	}
	if code, out, _ := run(t, enrollArgs(tok1)...); code != 0 || !strings.Contains(out, "enrolled gateway "+enrolGW) {
		t.Fatalf("enroll: exit %d", code)
	}
	fi, err := os.Stat(pwFile)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("password file: %v, %v; want mode 0600", fi, err)
	}
	pw1, _ := os.ReadFile(pwFile)
	// On the map at once, placed where the site config says.
	e, status := entity(enrolDevices[0].entity)
	if status != http.StatusOK || e["area"] != fiArea {
		t.Fatalf("enrolled device on the entities API: %d %v", status, e)
	}

	// The agent delivers with the credentials enroll wrote.
	a, stop := runAgent(t, sitePath)
	testenv.Eventually(t, 30*time.Second, "the enrolled gateway's readings make its site fresh", func() bool {
		e, _ := entity(enrolDevices[0].entity)
		return e["freshness"] == "fresh"
	})
	if !a.Status().Uplink.Connected {
		t.Fatal("agent not connected")
	}
	// The same token again: refused, nothing changed.
	if code, _, errOut := run(t, enrollArgs(tok1)...); code != ctl.ExitFail || !strings.Contains(errOut, "already used") {
		t.Fatalf("a used token: exit %d", code)
	}
	if now, _ := os.ReadFile(pwFile); !bytes.Equal(now, pw1) {
		t.Fatal("a refused enrolment changed the password file")
	}

	// Re-enrolment with a new token adds a device and rotates the
	// password: the new device is on the map at once, the old password is
	// refused; the agent restarted with the new one delivers again.
	testenv.WriteFile(t, sitePath, enrolSite(ing.BrokerURL, pwFile, filepath.Join(gwDir, "buffer"), modbusAddr, enrolDevices))
	if code, out, _ := run(t, enrollArgs(issue())...); code != 0 || !strings.Contains(out, "credentials rotated") {
		t.Fatalf("re-enroll: exit %d", code)
	}
	if _, status := entity(enrolDevices[1].entity); status != http.StatusOK {
		t.Fatalf("the added device is not on the entities API at once (%d)", status)
	}
	if err := connectOnce(ing.BrokerURL, enrolGW, strings.TrimSpace(string(pw1))); err == nil {
		t.Fatal("the rotated-out password still connects")
	}
	// No restart: the agent's connection was closed by the rotation, it
	// reconnects with the password file's new content, and a reload (what
	// systemctl reload ponte-edge sends) adds the device.
	defer stop()
	if err := a.Reload(context.Background()); err != nil {
		t.Fatalf("reload after re-enrolment: %v", err)
	}
	testenv.Eventually(t, 30*time.Second, "the added device's readings make its site fresh", func() bool {
		e, _ := entity(enrolDevices[1].entity)
		return e["freshness"] == "fresh"
	})

	// Revocation: the agent's connection is closed and not let back in.
	pw2, _ := os.ReadFile(pwFile)
	if code, _, _ := run(t, append([]string{"enrolment", "revoke", enrolGW}, ops...)...); code != 0 {
		t.Fatalf("revoke: exit %d", code)
	}
	testenv.Eventually(t, 10*time.Second, "the revoked gateway's agent is disconnected", func() bool { return !a.Status().Uplink.Connected })
	if err := connectOnce(ing.BrokerURL, enrolGW, strings.TrimSpace(string(pw2))); err == nil {
		t.Fatal("the revoked gateway reconnected")
	}
	time.Sleep(3 * time.Second) // several of the agent's reconnect attempts
	if a.Status().Uplink.Connected {
		t.Fatal("the revoked gateway's agent got back in")
	}
	e, _ = entity("urn:ngsi-ld:Device:" + enrolGW)
	if attrs, _ := e["attrs"].(map[string]any); attrs == nil || attrs["revoked"] == nil || attrs["revoked"].(map[string]any)["value"] != true {
		t.Fatalf("the gateway entity is not marked revoked: %v", e)
	}
	code, out, _ := run(t, append([]string{"enrolment", "list", "--tokens"}, ops...)...)
	if code != 0 || !strings.Contains(out, enrolGW) || !strings.Contains(out, "revoked") {
		t.Fatalf("list: exit %d", code)
	}
}
