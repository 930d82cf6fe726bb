package uplink

import (
	"crypto/tls"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/ponte-city/ponte/internal/testenv"
)

// refused runs a forwarder that must not get in: it keeps trying (with
// backoff) and never connects.
func refused(t *testing.T, cfg Config) {
	t.Helper()
	f := start(t, cfg, openBuf(t))
	testenv.Eventually(t, 20*time.Second, "two refused attempts", func() bool {
		return metricValue(f.m.connects.WithLabelValues("error")) >= 2
	})
	if got := metricValue(f.m.connects.WithLabelValues("ok")); got != 0 || f.Status().Connected {
		t.Errorf("a refused client connected (%v times)", got)
	}
	if f.Status().LastError == "" {
		t.Errorf("no LastError after refused attempts")
	}
	t.Logf("refused: %s", f.Status().LastError)
	if err := f.stop(t); err != nil {
		t.Errorf("Run returned %v after cancel, want nil", err)
	}
}

// flows runs a forwarder that must get in and deliver.
func flows(t *testing.T, cfg Config, ackerURL string) {
	t.Helper()
	flowsTLS(t, cfg, ackerURL, nil)
}

func flowsTLS(t *testing.T, cfg Config, ackerURL string, ackTLS *tls.Config) {
	t.Helper()
	a := newAckerTLS(t, ackerURL, ackContig, ackTLS)
	b := openBuf(t)
	f := start(t, cfg, b)
	produce(t, b, 0, 500)
	drained(t, b, a, 500, 30*time.Second)
	a.check(t, b.Epoch(), 500)
	if !f.Status().Connected {
		t.Errorf("not connected after delivering")
	}
}

func TestMutualTLS(t *testing.T) {
	p := newPKI(t)
	port := customMosquitto(t, fmt.Sprintf("cafile %s\ncertfile %s\nkeyfile %s\nrequire_certificate true\nuse_identity_as_username true\n",
		p.CA, p.ServerCert, p.ServerKey))
	url := fmt.Sprintf("ssl://127.0.0.1:%d", port)
	// The acknowledger is a client like any other here: it needs a cert.
	ackTLS, err := LoadTLS(p.CA, p.ClientCert, p.ClientKey)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name       string
		cert, key  string
		ok         bool
		serverName string
	}{
		{"client certificate", p.ClientCert, p.ClientKey, true, ""},
		{"no client certificate", "", "", false, ""},
		{"certificate of another CA", p.OtherCert, p.OtherKey, false, ""},
		{"wrong server name", p.ClientCert, p.ClientKey, false, "broker.example"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tlsCfg, err := LoadTLS(p.CA, tc.cert, tc.key)
			if err != nil {
				t.Fatal(err)
			}
			tlsCfg.ServerName = tc.serverName
			cfg := baseConfig(url)
			cfg.TLS = tlsCfg
			if !tc.ok {
				refused(t, cfg)
				return
			}
			flowsTLS(t, cfg, url, ackTLS)
		})
	}
}

func TestPassword(t *testing.T) {
	bin := testenv.Need(t, "mosquitto_passwd", "apt-get install mosquitto")
	pw := filepath.Join(brokerDir(t), "passwd")
	if out, err := exec.Command(bin, "-b", "-c", pw, testGW, "s3cret").CombinedOutput(); err != nil {
		t.Fatalf("mosquitto_passwd: %v: %s", err, out)
	}
	if out, err := exec.Command(bin, "-b", pw, "acker", "ackpw").CombinedOutput(); err != nil {
		t.Fatalf("mosquitto_passwd: %v: %s", err, out)
	}
	port := customMosquitto(t, fmt.Sprintf("allow_anonymous false\npassword_file %s\n", pw))
	url := fmt.Sprintf("tcp://127.0.0.1:%d", port)
	ackerURL := fmt.Sprintf("tcp://acker:ackpw@127.0.0.1:%d", port)
	cases := []struct {
		name, user, pass string
		ok               bool
	}{
		{"right password, username defaults to the gateway", "", "s3cret", true},
		{"wrong password", "", "guess", false},
		{"no password", "", "", false},
		{"unknown user", "gw-other", "s3cret", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := baseConfig(url)
			cfg.Username, cfg.Password = tc.user, tc.pass
			if tc.ok {
				flows(t, cfg, ackerURL)
			} else {
				refused(t, cfg)
			}
		})
	}
}

// TestACL runs the shipped broker ACL (deploy/mosquitto/ponte.acl), which
// confines each gateway to its own topics: the gateway works
// under its own ID. One that claims another ID gets nowhere: Mosquitto
// grants MQTT 3.1.1 subscriptions and acknowledges publishes the ACL
// denies and then drops them silently, so the forwarder cannot tell at
// connect time; it must keep every record and keep resending.
func TestACL(t *testing.T) {
	bin := testenv.Need(t, "mosquitto_passwd", "apt-get install mosquitto")
	dir := brokerDir(t)
	pw := filepath.Join(dir, "passwd")
	// ponte-ingest is the user the shipped ACL lets read every gateway's
	// batches and write the acks.
	for i, up := range [][2]string{{testGW, "s3cret"}, {"ponte-ingest", "ackpw"}} {
		args := []string{"-b", pw, up[0], up[1]}
		if i == 0 {
			args = append([]string{"-c"}, args...)
		}
		if out, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
			t.Fatalf("mosquitto_passwd: %v: %s", err, out)
		}
	}
	// The shipped file as it is, beside the broker's other files.
	rules, err := os.ReadFile("../../deploy/mosquitto/ponte.acl")
	if err != nil {
		t.Fatal(err)
	}
	acl := filepath.Join(dir, "ponte.acl")
	if err := os.WriteFile(acl, rules, 0o644); err != nil {
		t.Fatal(err)
	}
	port := customMosquitto(t, fmt.Sprintf("allow_anonymous false\npassword_file %s\nacl_file %s\n", pw, acl))
	url := fmt.Sprintf("tcp://127.0.0.1:%d", port)

	ackerURL := fmt.Sprintf("tcp://ponte-ingest:ackpw@127.0.0.1:%d", port)
	t.Run("own ID", func(t *testing.T) {
		cfg := baseConfig(url)
		cfg.Password = "s3cret"
		flows(t, cfg, ackerURL)
	})
	t.Run("another gateway's ID", func(t *testing.T) {
		a := newAcker(t, ackerURL, ackContig)
		b := openBuf(t)
		cfg := baseConfig(url)
		cfg.Gateway, cfg.Username, cfg.Password = "gw-other", testGW, "s3cret"
		cfg.AckTimeout = 200 * time.Millisecond
		f := start(t, cfg, b)
		produceDurable(t, b, 0, 10)
		testenv.Eventually(t, 20*time.Second, "two resends", func() bool { return metricValue(f.m.resends) >= 2 })
		if got := a.distinct(); got != 0 {
			t.Errorf("ingest received %d readings published under another gateway's ID", got)
		}
		if st := b.Stats(); st.Records != 10 {
			t.Errorf("buffer holds %d records, want all 10 kept", st.Records)
		}
	})
}
