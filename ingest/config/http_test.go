package config

import (
	"strings"
	"testing"
)

func TestHTTPDefaults(t *testing.T) {
	c, err := Parse("min.yaml", []byte("influx:\n  url: http://influx:8086\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.HTTP != DefaultHTTP() || c.HTTP.OpsListen != "127.0.0.1:8081" {
		t.Fatalf("http defaults not applied: %+v", c.HTTP)
	}
	if tc, err := c.HTTPTLSConfig(); tc != nil || err != nil {
		t.Fatalf("TLS without http.tls: %v %v", tc, err)
	}
}

func TestHTTPErrors(t *testing.T) {
	tests := []struct{ name, http, want string }{
		{"ops on the public port", "  listen: 0.0.0.0:8080\n  ops_listen: 0.0.0.0:8080\n", `bad.yaml:5: http.ops_listen: "0.0.0.0:8080" is http.listen too`},
		{"bad ops listen", "  ops_listen: 8081\n", `bad.yaml:4: http.ops_listen: "8081" is not host:port`},
		{"zero read timeout", "  read_timeout: 0s\n", `bad.yaml:4: http.read_timeout: 0s (expected a positive duration`},
		{"write within request timeout", "  write_timeout: 10s\n", `bad.yaml:4: http.write_timeout: 10s is not more than http.request_timeout 30s`},
		{"tiny header cap", "  max_header_bytes: 10\n", `bad.yaml:4: http.max_header_bytes: 10 (expected 1024 or more bytes)`},
		{"no connections", "  max_connections: -1\n", `bad.yaml:4: http.max_connections: -1`},
		{"no auth budget", "  auth_burst: 0\n", `bad.yaml:4: http.auth_burst: 0`},
		{"tls without key", "  tls:\n    cert_file: c.pem\n", `bad.yaml:4: http.tls.key_file: required`},
		{"tls missing files", "  tls:\n    cert_file: /nonexistent/c.pem\n    key_file: /nonexistent/k.pem\n", `bad.yaml:4: http.tls: cannot load the certificate and key`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("bad.yaml", []byte("influx:\n  url: http://i:8086\nhttp:\n"+tc.http))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}
