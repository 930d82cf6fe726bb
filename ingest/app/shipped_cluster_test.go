package app_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/ponte-city/ponte/ingest/config"
	"github.com/ponte-city/ponte/ingest/dedup"
	"github.com/ponte-city/ponte/ingest/replica"
	"github.com/ponte-city/ponte/internal/natstest"
	"github.com/ponte-city/ponte/internal/secret/secrettest"
	"github.com/ponte-city/ponte/internal/testenv"
)

// clusterEnv sets the environment the cluster example reads its secrets
// from (as compose.yaml and an operator's unit do) and returns it.
func clusterEnv(t *testing.T) map[string]string {
	env := map[string]string{
		"PONTE_NATS_PASSWORD":    secrettest.Random(t),
		"PONTE_GATEWAY_PASSWORD": secrettest.Random(t),
		"PONTE_OPERATOR_TOKENS":  secrettest.Random(t) + "," + secrettest.Random(t),
	}
	for k, v := range env {
		t.Setenv(k, v)
	}
	return env
}

// TestShippedClusterConfig: ponte-ingest loads the cluster instance's
// example (deploy/ingest/ponte-ingest-cluster.yaml) with its secrets from
// the environment, and it uses the cluster for all three: uplink, dedup
// state and twin, on every node, with ingest's login.
func TestShippedClusterConfig(t *testing.T) {
	env := clusterEnv(t)
	cfg, err := config.Load("../../deploy/ingest/ponte-ingest-cluster.yaml")
	if err != nil {
		t.Fatal(err)
	}
	checkClusterConfig(t, cfg, env["PONTE_NATS_PASSWORD"])
}

func checkClusterConfig(t *testing.T, cfg *config.Config, password string) {
	t.Helper()
	b := cfg.Broker.NATS
	if b == nil || cfg.Dedup == nil || cfg.Dedup.NATS == nil || cfg.Twin == nil || cfg.Twin.Replica == nil {
		t.Fatalf("broker.nats %v, dedup %v, twin %v: want all three on NATS", b, cfg.Dedup, cfg.Twin)
	}
	for name, c := range map[string]config.NATSConn{"broker.nats": b.NATSConn, "dedup.nats": cfg.Dedup.NATS.NATSConn, "twin.replica": cfg.Twin.Replica.NATSConn} {
		if len(c.URLs) != 3 || c.User != "ponte-ingest" || c.Password != password {
			t.Errorf("%s: urls %v user %q password from the environment %v; want three nodes, ponte-ingest", name, c.URLs, c.User, c.Password == password)
		}
	}
	kc, ok := cfg.KV()
	if !ok || kc.Bucket != dedup.DefaultBucket || kc.Replicas != 3 {
		t.Errorf("dedup bucket %q replicas %d; want %s, 3", kc.Bucket, kc.Replicas, dedup.DefaultBucket)
	}
	if b.Replicas != 3 || cfg.Twin.Replica.Replicas != 3 {
		t.Errorf("replicas: uplink %d, applied %d; want 3", b.Replicas, cfg.Twin.Replica.Replicas)
	}
	if len(cfg.Twin.Tokens) != 2 {
		t.Errorf("operator tokens %d, want the 2 of PONTE_OPERATOR_TOKENS", len(cfg.Twin.Tokens))
	}
}

// TestShippedNATSUnit: systemd accepts the NATS node's unit
// (systemd-analyze verify prints nothing: an unknown or misspelt
// directive is only a warning there), its state directory is the node
// configs' JetStream store, and it is at least as locked down as
// ponte-ingest's unit (systemd-analyze security).
func TestShippedNATSUnit(t *testing.T) {
	analyze := testenv.Need(t, "systemd-analyze", "apt-get install systemd, or deploy/bootstrap deb")
	bin := natstest.Binary(t)
	dir := t.TempDir()
	unit := func(name, from, to string) string {
		data, err := os.ReadFile("../../deploy/systemd/" + name)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(strings.ReplaceAll(string(data), from, to)), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	nats := unit("ponte-nats.service", "/usr/local/bin/nats-server", bin)
	ingest := unit("ponte-ingest.service", "/usr/bin/ponte-ingest", bin)
	out, err := exec.Command(analyze, "verify", "--man=no", nats).CombinedOutput()
	if err != nil || len(out) > 0 {
		t.Errorf("systemd-analyze verify ponte-nats.service: %v\n%s", err, out)
	}
	text, _ := os.ReadFile(nats)
	for _, want := range []string{"StateDirectory=nats\n", "LimitNOFILE=", "ExecReload=/bin/kill -s HUP $MAINPID", "ProtectSystem=strict", "KillSignal=SIGUSR2"} {
		if !strings.Contains(string(text), want) {
			t.Errorf("ponte-nats.service lacks %q", want)
		}
	}
	for i := 1; i <= 3; i++ {
		conf, err := os.ReadFile("../../deploy/nats/nats-" + strconv.Itoa(i) + ".conf")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(conf), "store_dir: /var/lib/nats/jetstream") {
			t.Errorf("nats-%d.conf: store_dir is not under the unit's StateDirectory /var/lib/nats", i)
		}
	}
	exposure := func(path string) float64 {
		out, err := exec.Command(analyze, "security", "--offline=true", "--no-pager", path).CombinedOutput()
		m := regexp.MustCompile(`Overall exposure level for \S+: ([0-9.]+)`).FindSubmatch(out)
		if m == nil {
			t.Fatalf("systemd-analyze security %s: %v\n%s", path, err, out)
		}
		f, _ := strconv.ParseFloat(string(m[1]), 64)
		return f
	}
	if n, i := exposure(nats), exposure(ingest); n > i {
		t.Errorf("ponte-nats.service exposure %.1f, above ponte-ingest.service's %.1f", n, i)
	} else {
		t.Logf("systemd-analyze security: ponte-nats.service %.1f, ponte-ingest.service %.1f", n, i)
	}
}

// TestShippedNATSAccountsAllowIngest: with the shipped accounts.conf,
// user ponte-ingest may do what the cluster example asks of it beyond the
// uplink: the dedup bucket (create, commit, read back), the applied
// stream (publish) and the twin's snapshots (object store put), on a real
// server. A permission missing there is an ingest that starts and then
// never commits or publishes.
func TestShippedNATSAccountsAllowIngest(t *testing.T) {
	accounts, err := os.ReadFile("../../deploy/nats/accounts.conf")
	if err != nil {
		t.Fatal(err)
	}
	const placeholder = "CHANGE-ME-ingest-password-placeholder"
	if !strings.Contains(string(accounts), placeholder) {
		t.Fatalf("accounts.conf no longer holds %s: update this test", placeholder)
	}
	password := secrettest.Random(t)
	c := natstest.Start(t, natstest.Options{Config: strings.ReplaceAll(string(accounts), placeholder, password)})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	login := nats.UserInfo("ponte-ingest", password)
	log := testenv.Logger(t, 0)

	kv, err := dedup.OpenKV(ctx, dedup.KVConfig{URLs: []string{c.Nodes[0].URL}, Replicas: 1, Timeout: time.Second,
		Options: []nats.Option{login}, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	defer kv.Close()
	tx, err := kv.Lock(ctx, "fi-lighting-q2-0042")
	if err != nil {
		t.Fatal(err)
	}
	tx.Add(1, 1, 10, 0, time.Now())
	if err := tx.Commit(ctx); err != nil {
		t.Fatalf("dedup commit as ponte-ingest: %v", err)
	}
	tx.Unlock()
	if m, err := kv.Mark(ctx, "fi-lighting-q2-0042", 1); err != nil || m != 10 {
		t.Fatalf("dedup mark read back %d, %v; want 10", m, err)
	}

	r, err := replica.Open(ctx, replica.Config{URLs: c.Nodes[0].URL, Replicas: 1, MaxBytes: 64 << 20, Options: []nats.Option{login}, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	js := natstest.JetStream(t, c.Nodes[0].URL, login)
	if _, err := js.Publish(ctx, replica.DefaultSubject, []byte("x")); err != nil {
		t.Errorf("publish to the applied stream as ponte-ingest: %v", err)
	}
	objs, err := js.ObjectStore(ctx, replica.DefaultBucket)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := objs.PutBytes(ctx, "snapshot-test", []byte("twin")); err != nil {
		t.Errorf("store a snapshot as ponte-ingest: %v", err)
	}
	if got, err := objs.GetBytes(ctx, "snapshot-test"); err != nil || string(got) != "twin" {
		t.Errorf("read the snapshot back as ponte-ingest: %q, %v", got, err)
	}
}
