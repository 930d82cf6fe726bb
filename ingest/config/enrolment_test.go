package config

import (
	"strings"
	"testing"
)

func TestEnrolmentChecks(t *testing.T) {
	cases := []struct {
		name, yaml string
		want       []string
	}{
		{"needs https, profiles and operators", "enrolment: {}\n",
			[]string{"enrolment: needs profiles:", "enrolment: needs twin.tokens", "enrolment: needs http.tls"}},
		{"mosquitto only with an external broker", "enrolment:\n  mosquitto: {password_file: /p}\n",
			[]string{"enrolment.mosquitto: only with an external Mosquitto", "enrolment.mosquitto.acl_file: required"}},
		{"a CA needs its files and a TLS listener", "enrolment:\n  ca: {cert_file: ca.pem}\n",
			[]string{"enrolment.ca: needs cert_file and key_file", "enrolment.ca: the embedded broker has no TLS listener"}},
		{"bounds", "enrolment:\n  max_gateways: -1\n",
			[]string{"enrolment.max_gateways: -1"}},
		{"tenants' shares", "enrolment:\n  max_gateways_per_tenant: -1\n  max_pending_tokens_per_tenant: -2\n",
			[]string{"enrolment.max_gateways_per_tenant: -1", "enrolment.max_pending_tokens_per_tenant: -2"}},
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
			if !strings.Contains(err.Error(), "ingest.yaml:") {
				t.Errorf("errors do not name the file and line:\n%v", err)
			}
		})
	}
}
