package uplink

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadTLS(t *testing.T) {
	p := newPKI(t)
	garbage := filepath.Join(t.TempDir(), "garbage.pem")
	if err := os.WriteFile(garbage, []byte("not pem"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name            string
		ca, cert, key   string
		want            string // error substring; "" = ok
		roots, clientOK bool
	}{
		{"CA only", p.CA, "", "", "", true, false},
		{"CA and client certificate", p.CA, p.ClientCert, p.ClientKey, "", true, true},
		{"system roots and client certificate", "", p.ClientCert, p.ClientKey, "", false, true},
		{"missing CA file", filepath.Join(t.TempDir(), "nope.pem"), "", "", "read CA file", false, false},
		{"CA file without PEM", garbage, "", "", "no PEM certificate", false, false},
		{"certificate without key", p.CA, p.ClientCert, "", "go together", false, false},
		{"key without certificate", p.CA, "", p.ClientKey, "go together", false, false},
		{"key of another certificate", p.CA, p.ClientCert, p.OtherKey, "client certificate", false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := LoadTLS(tc.ca, tc.cert, tc.key)
			if tc.want != "" {
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("err %v, want one mentioning %q", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if (cfg.RootCAs != nil) != tc.roots || (len(cfg.Certificates) == 1) != tc.clientOK {
				t.Errorf("roots set %v, client certs %d", cfg.RootCAs != nil, len(cfg.Certificates))
			}
		})
	}
}
