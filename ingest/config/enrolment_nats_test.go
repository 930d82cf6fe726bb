package config

import (
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/ponte-city/ponte/internal/yamlconf"
)

func TestEnrolmentNATS(t *testing.T) {
	cfg := &Config{Enrolment: &Enrolment{NATS: &EnrolmentNATS{NATSConn: NATSConn{URLs: []string{"nats://10.0.0.1:4222"}, User: "ingest", Password: "pw"},
		Replicas: 1, Timeout: yamlconf.Duration(2 * time.Second)}}}
	kc := cfg.EnrolmentKV()
	if kc == nil || kc.Replicas != 1 || kc.Timeout != 2*time.Second || kc.URLs[0] != "nats://10.0.0.1:4222" {
		t.Fatalf("EnrolmentKV() = %+v", kc)
	}
	var login nats.Options
	for _, o := range kc.Options {
		if err := o(&login); err != nil {
			t.Fatal(err)
		}
	}
	if login.User != "ingest" || login.Password != "pw" {
		t.Errorf("options log in as %q/%q", login.User, login.Password)
	}
	if err := kc.Validate(); err != nil || kc.Bucket != "ponte-enrol" {
		t.Fatalf("Validate: %v, bucket %q", err, kc.Bucket)
	}
	if (&Config{}).EnrolmentKV() != nil {
		t.Fatal("a bucket without enrolment.nats")
	}
}

func TestEnrolmentNATSErrors(t *testing.T) {
	cases := []struct {
		name, yaml string
		want       []string
	}{
		{"no urls, bad bucket, replicas", "enrolment:\n  nats:\n    bucket: a.b\n    replicas: 9\n",
			[]string{"enrolment.nats.urls: required", "enrolment.nats.bucket: \"a.b\"", "enrolment.nats.replicas: 9"}},
		{"bad url and login", "enrolment:\n  nats:\n    urls: [http://x]\n    user: u\n    timeout: 1ms\n",
			[]string{"enrolment.nats.urls[0]", "enrolment.nats.password: required", "enrolment.nats.timeout"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("ingest.yaml", []byte("influx:\n  url: http://influx:8086\n"+tc.yaml))
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not say %q:\n%v", w, err)
				}
			}
		})
	}
}
