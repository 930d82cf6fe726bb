package app_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/ponte-city/ponte/ingest/app"
	"github.com/ponte-city/ponte/ingest/config"
	"github.com/ponte-city/ponte/ingest/enrol"
	"github.com/ponte-city/ponte/ingest/ingesttest"
	"github.com/ponte-city/ponte/ingest/intake"
	"github.com/ponte-city/ponte/ingest/opsctl"
	"github.com/ponte-city/ponte/internal/influxtest"
	"github.com/ponte-city/ponte/internal/natstest"
	"github.com/ponte-city/ponte/internal/testenv"
	"github.com/ponte-city/ponte/twin/alarms"
	"github.com/ponte-city/ponte/wire"
)

// clusterGateway is the gateway TestClusterOperatorAndTechnician enrols.
const clusterGateway = "fi-app-1"

// TestClusterOperatorAndTechnician: two ingest instances A and B on a
// three-node NATS cluster with the shipped accounts.conf and callout.conf,
// everything shared through the cluster (uplink, dedup, enrolment
// registry, twin, alarms), as an operator and a technician use them. A
// token issued on A (ponte-ctl enrolment token) enrols a gateway on B; the
// gateway logs in to a NATS node with the password B answered (the auth
// callout), its batches are acknowledged and land in InfluxDB once; its
// reading over a rule's threshold raises one alarm both instances list,
// acknowledged on the instance that does not evaluate the rules and seen
// acknowledged on both; revoked on A, it is refused on every node and B's
// registry shows it revoked; both twins show its site alike.
func TestClusterOperatorAndTechnician(t *testing.T) {
	testenv.Integration(t, "a three-node NATS cluster, InfluxDB 1.8 and two ingest instances")
	dir := t.TempDir()
	conf, ingestPass, seed := shippedCalloutConfig(t, dir)
	c := natstest.Start(t, natstest.Options{Nodes: 3, Config: conf})
	srv := influxtest.Start(t)
	certFile, keyFile, pool := testenv.SelfSigned(t, dir, "ponte-ingest")
	opTokenFile := filepath.Join(dir, "operator.token")
	testenv.WriteFile(t, opTokenFile, operatorToken+"\n")

	var urls []string
	for _, n := range c.Nodes {
		urls = append(urls, n.URL)
	}
	nats := fmt.Sprintf("{urls: [%s], user: ponte-ingest, password: %s}", strings.Join(urls, ", "), ingestPass)
	instance := func(name string) app.Addrs {
		d := filepath.Join(dir, name)
		y := fmt.Sprintf(`broker:
  client_id: ingest-%[1]s
  nats:
    urls: [%[2]s]
    user: ponte-ingest
    password: %[3]s
    ack_wait: 5s
    callout: {issuer_seed_file: %[4]s, workers: 2}
dedup:
  nats: %[5]s
enrolment:
  dir: %[6]s/registry
  nats: %[5]s
influx: {url: %[7]s, bucket: %[8]s, retry_base: 0s}
http: {listen: 127.0.0.1:0, ops_listen: 127.0.0.1:0, tls: {cert_file: %[9]s, key_file: %[10]s}}
state_dir: %[6]s/state
dead_letter: {dir: %[6]s/dead}
profiles: %[11]s
twin:
  areas: [%[12]s]
  tokens: [%[13]s]
  replica: %[5]s
  alarms:
    defaults: false
    rules:
      - id: cabinet-overload
        category: energy
        point: power
        above: 20000
        hysteresis: 2000
        severity: major
        unit: W
        label: {it: "Quadro oltre 20 kW", en: "Cabinet above 20 kW"}
`, name, strings.Join(urls, ", "), ingestPass, seed, nats, d, srv.URL, srv.Bucket, certFile, keyFile,
			abs(t, "../../firmware-profiles"), abs(t, "../../geo/data/firenze-metro-municipalities.geojson"), operatorToken)
		path := filepath.Join(dir, name+".yaml")
		testenv.WriteFile(t, path, y)
		cfg, err := config.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		addrs, _ := runUntil(t, cfg, app.Options{Logger: testenv.Logger(t, slog.LevelWarn).With("instance", name)})
		return addrs
	}
	a, b := instance("a"), instance("b")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	client := &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	api := &operatorAPI{t: t, client: client, caFile: certFile, tokenFile: opTokenFile}

	// 1. The operator issues a token on A; the technician enrols the
	// gateway with it on B (as ponte-ctl enroll does); A's registry
	// follows.
	var tok enrol.TokenResponse
	api.ctl(a, &tok, "token", "--gateway", clusterGateway, "--ttl", "1h")
	siteYAML, err := os.ReadFile(writeSite(t, dir, clusterGateway, "dev0", "dev1", "dev2", "dev3", "dev4", "dev5", "dev6", "dev7", "dev8", "dev9"))
	if err != nil {
		t.Fatal(err)
	}
	status, body := api.do(b, http.MethodPost, wire.EnrolPath, tok.Secret,
		wire.EnrolRequest{File: clusterGateway + ".yaml", Site: string(siteYAML), Attempt: "0123456789abcdef0123456789abcdef"})
	var creds wire.EnrolResponse
	if err := json.Unmarshal(body, &creds); status != http.StatusCreated || err != nil || creds.Gateway != clusterGateway || creds.Devices != 10 || creds.Password == "" {
		t.Fatalf("enrolment on B: %d %s", status, body)
	}
	for _, in := range []app.Addrs{a, b} {
		testenv.Eventually(t, 20*time.Second, "the gateway enrolled on B in the registry of "+in.HTTP, func() bool {
			g, ok := api.enrolled(in, clusterGateway)
			return ok && g.Revoked == nil && g.Devices == 10
		})
	}

	// 2. The gateway logs in to a node with its password, as the edge
	// does (client ID ponte-edge-<ID>), and its batches are acknowledged:
	// in InfluxDB once each.
	g := &ingesttest.Gateway{ID: clusterGateway, ClientID: "ponte-edge-" + clusterGateway, Epoch: 1,
		Topics: wire.Topics{}, Batch: 50, Pipeline: true}
	mc, err := g.Connect(c.Nodes[1].MQTT, creds.Password)
	if err != nil {
		t.Fatalf("the enrolled gateway cannot log in to NATS: %v", err)
	}
	defer mc.Disconnect(50)
	const total = 400
	if err := g.Run(ctx, mc, total); err != nil {
		t.Fatalf("%v\n%s", err, c.State())
	}
	q := fmt.Sprintf(`SELECT count("p0") FROM "energy" WHERE "gateway" = '%s' AND "area" = 'Firenze'`, clusterGateway)
	if n := srv.Count(t, q); n != total/4 {
		t.Fatalf("InfluxDB holds %d p0 readings of the gateway, want %d (%s)", n, total/4, q)
	}

	// 3. A cabinet drawing 25 kW raises one alarm, listed by both
	// instances with the same ID.
	over := &wire.Batch{Gateway: clusterGateway, Epoch: 1, Seqs: []uint64{total + 1}, Readings: []wire.Reading{{
		Device: "dev0", Point: "total_power", Value: wire.Float(25000), Unit: "W", Time: time.Now().UTC().Truncate(time.Millisecond)}}}
	data, err := wire.Encode(nil, over)
	if err != nil {
		t.Fatal(err)
	}
	if pt := mc.Publish(wire.Topics{}.Up(clusterGateway), 1, false, data); !pt.WaitTimeout(10*time.Second) || pt.Error() != nil {
		t.Fatalf("publish the reading over the threshold: %v", pt.Error())
	}
	testenv.Eventually(t, 20*time.Second, "the reading over the threshold acknowledged", func() bool { return g.Acked() == total+1 })
	var raised alarms.Alarm
	testenv.Eventually(t, 20*time.Second, "one alarm, the same, on A and B", func() bool {
		la, lb := api.alarms(a), api.alarms(b)
		if len(la.Alarms) != 1 || len(lb.Alarms) != 1 || la.Alarms[0].ID != lb.Alarms[0].ID {
			return false
		}
		raised = la.Alarms[0]
		return true
	})
	if raised.Rule != "cabinet-overload" || raised.State != alarms.Raised || raised.ValueAtRaise != 25000 ||
		!strings.HasSuffix(raised.Entity, ":"+clusterGateway+":dev0") {
		t.Fatalf("alarm %+v", raised)
	}

	// The operator acknowledges it on the instance that does not lead
	// (evaluate the rules): the acknowledgement goes to the leader and
	// both list it acknowledged by her.
	leaderA, leaderB := alarmsLeader(t, a), alarmsLeader(t, b)
	if leaderA == leaderB {
		t.Fatalf("ponte_twin_alarms_leader: A %v, B %v; want exactly one leader", leaderA, leaderB)
	}
	follower := a
	if leaderA {
		follower = b
	}
	status, body = api.do(follower, http.MethodPost, "/api/v1/alarms/"+raised.ID+"/ack", operatorToken,
		map[string]string{"operator": "Maria Rossi", "note": "squadra inviata"})
	var acked alarms.Alarm
	if err := json.Unmarshal(body, &acked); status != http.StatusOK || err != nil || acked.State != alarms.Acknowledged ||
		acked.Acknowledged == nil || acked.Acknowledged.By != "Maria Rossi" {
		t.Fatalf("acknowledgement on the follower %s: %d %s", follower.HTTP, status, body)
	}
	for _, in := range []app.Addrs{a, b} {
		testenv.Eventually(t, 20*time.Second, "the alarm acknowledged by Maria Rossi on "+in.HTTP, func() bool {
			l := api.alarms(in)
			return len(l.Alarms) == 1 && l.Alarms[0].ID == raised.ID && l.Alarms[0].State == alarms.Acknowledged &&
				l.Alarms[0].Acknowledged != nil && l.Alarms[0].Acknowledged.By == "Maria Rossi" && l.Alarms[0].Acknowledged.Note == "squadra inviata"
		})
	}

	// 4. Revoked on A (ponte-ctl enrolment revoke), the gateway's next
	// login is refused on every node, and B's registry shows it revoked.
	mc.Disconnect(50)
	for _, n := range c.Nodes {
		if err := gatewayLogin(n.MQTT, creds.Password); err != nil {
			t.Fatalf("before revocation the gateway cannot log in to %s: %v", n.Name, err)
		}
	}
	api.ctl(a, nil, "revoke", clusterGateway)
	testenv.Eventually(t, 20*time.Second, "the gateway revoked in B's registry", func() bool {
		g, ok := api.enrolled(b, clusterGateway)
		return ok && g.Revoked != nil
	})
	for _, n := range c.Nodes {
		if err := gatewayLogin(n.MQTT, creds.Password); err == nil {
			t.Errorf("the revoked gateway logged in to %s", n.Name)
		} else {
			t.Logf("revoked gateway at %s: %v", n.Name, err)
		}
	}

	// 5. Both twins show the gateway's site alike.
	var site []json.RawMessage
	testenv.Eventually(t, 20*time.Second, "the gateway's site equal on A's and B's twins", func() bool {
		fa, fb := api.site(a, clusterGateway), api.site(b, clusterGateway)
		site = fa
		return len(fa) > 0 && slices.EqualFunc(fa, fb, func(x, y json.RawMessage) bool { return bytes.Equal(x, y) })
	})
	// Its ten devices, dev0 at the reading that raised the alarm, and the
	// gateway marked revoked.
	var devices int
	var dev0Power, revoked any
	for _, f := range site {
		var e struct {
			Properties struct {
				Kind   string `json:"kind"`
				Device string `json:"device"`
				Attrs  map[string]struct {
					Value any `json:"value"`
				} `json:"attrs"`
			} `json:"properties"`
		}
		if err := json.Unmarshal(f, &e); err != nil {
			t.Fatal(err)
		}
		switch p := e.Properties; {
		case p.Kind == "site":
			devices++
			if p.Device == "dev0" {
				dev0Power = p.Attrs["power"].Value
			}
		case p.Kind == "gateway":
			revoked = p.Attrs["revoked"].Value
		}
	}
	if devices != 10 || dev0Power != 25000.0 || revoked != true {
		t.Fatalf("the gateway's site on both twins: %d devices, dev0's power %v, gateway revoked %v; want 10, 25000, true\n%s", devices, dev0Power, revoked, site)
	}
}

// operatorAPI calls ingest instances' HTTPS APIs as an operator.
type operatorAPI struct {
	t                 *testing.T
	client            *http.Client
	caFile, tokenFile string
}

// ctl runs ponte-ctl enrolment args against in, decoding its --json
// output into out (nil: not asked for).
func (o *operatorAPI) ctl(in app.Addrs, out any, args ...string) {
	o.t.Helper()
	args = append(args, "--url", "https://"+in.HTTP, "--ca", o.caFile, "--token-file", o.tokenFile)
	if out != nil {
		args = append(args, "--json")
	}
	var stdout, stderr bytes.Buffer
	if code := opsctl.Enrolment(context.Background(), opsctl.Env{Stdout: &stdout, Stderr: &stderr}, args); code != opsctl.ExitOK {
		o.t.Fatalf("ponte-ctl enrolment %s: exit %d\n%s%s", strings.Join(args, " "), code, stdout.String(), stderr.String())
	}
	if out != nil {
		if err := json.Unmarshal(stdout.Bytes(), out); err != nil {
			o.t.Fatalf("ponte-ctl enrolment %s --json: %v\n%s", args[0], err, stdout.String())
		}
	}
}

// enrolled returns gateway id as in's registry lists it.
func (o *operatorAPI) enrolled(in app.Addrs, id string) (enrol.Gateway, bool) {
	o.t.Helper()
	var list struct {
		Gateways []enrol.Gateway `json:"gateways"`
	}
	o.ctl(in, &list, "list")
	i := slices.IndexFunc(list.Gateways, func(g enrol.Gateway) bool { return g.ID == id })
	if i < 0 {
		return enrol.Gateway{}, false
	}
	return list.Gateways[i], true
}

// do sends body (JSON; nil: none) with the bearer token and returns the
// answer.
func (o *operatorAPI) do(in app.Addrs, method, path, token string, body any) (int, []byte) {
	o.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, "https://"+in.HTTP+path, rd)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := o.client.Do(req)
	if err != nil {
		o.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// alarms returns in's open alarms.
func (o *operatorAPI) alarms(in app.Addrs) alarms.List {
	o.t.Helper()
	status, body := o.do(in, http.MethodGet, "/api/v1/alarms", operatorToken, nil)
	var l alarms.List
	if err := json.Unmarshal(body, &l); status != http.StatusOK || err != nil {
		o.t.Fatalf("alarms of %s: %d %s", in.HTTP, status, body)
	}
	return l
}

// site returns the features of in's /api/v1/entities of gateway gw,
// sorted by ID.
func (o *operatorAPI) site(in app.Addrs, gw string) []json.RawMessage {
	o.t.Helper()
	status, body := o.do(in, http.MethodGet, "/api/v1/entities", operatorToken, nil)
	var fc struct {
		Features []json.RawMessage `json:"features"`
	}
	if err := json.Unmarshal(body, &fc); status != http.StatusOK || err != nil {
		o.t.Fatalf("entities of %s: %d %.200s", in.HTTP, status, body)
	}
	type keyed struct {
		id string
		f  json.RawMessage
	}
	var out []keyed
	for _, f := range fc.Features {
		var e struct {
			ID         string `json:"id"`
			Properties struct {
				Gateway string `json:"gateway"`
			} `json:"properties"`
		}
		if json.Unmarshal(f, &e) == nil && e.Properties.Gateway == gw {
			out = append(out, keyed{e.ID, f})
		}
	}
	slices.SortFunc(out, func(x, y keyed) int { return strings.Compare(x.id, y.id) })
	fs := make([]json.RawMessage, len(out))
	for i, k := range out {
		fs[i] = k.f
	}
	return fs
}

// alarmsLeader reads ponte_twin_alarms_leader of an instance.
func alarmsLeader(t *testing.T, in app.Addrs) bool {
	t.Helper()
	m := metricsText(t, in)
	switch {
	case strings.Contains(m, "\nponte_twin_alarms_leader 1\n"):
		return true
	case strings.Contains(m, "\nponte_twin_alarms_leader 0\n"):
		return false
	}
	t.Fatalf("no ponte_twin_alarms_leader on %s", in.Ops)
	return false
}

// gatewayLogin logs the gateway in to the MQTT listener at url once, as
// the edge does, and out again; the error says why it was refused.
func gatewayLogin(url, password string) error {
	o := mqtt.NewClientOptions().AddBroker(url).SetClientID("ponte-edge-" + clusterGateway).
		SetUsername(clusterGateway).SetPassword(password).SetStore(intake.MemoryStore()).
		SetCleanSession(true).SetAutoReconnect(false).SetConnectRetry(false).SetConnectTimeout(10 * time.Second)
	c := mqtt.NewClient(o)
	tok := c.Connect()
	if !tok.WaitTimeout(15 * time.Second) {
		return fmt.Errorf("no CONNACK from %s", url)
	}
	if err := tok.Error(); err != nil {
		return err
	}
	c.Disconnect(50)
	return nil
}
