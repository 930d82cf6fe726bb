package ctl

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/ponte-city/ponte/internal/tlsclient"

	"github.com/ponte-city/ponte/edge/agent"
	"github.com/ponte-city/ponte/internal/atomicfile"
	"github.com/ponte-city/ponte/internal/backoff"
	"github.com/ponte-city/ponte/internal/site"
	"github.com/ponte-city/ponte/wire"
)

// EnrolTokenEnv is the environment variable enroll reads the token from
// when --token-file is not given.
const EnrolTokenEnv = "PONTE_ENROL_TOKEN"

// enrollBackoff spaces the attempts over a bad link.
var enrollBackoff = backoff.Policy{Base: time.Second, Max: time.Minute, Jitter: backoff.Equal}

// enroll is `ponte-ctl enroll SITE.yaml --url https://INGEST --token-file
// FILE`: it checks the site config as the agent would, sends it to ingest
// with the enrolment token, and writes the credentials ingest answers where
// the site config says (uplink.password_file; with --csr the client
// certificate at uplink.tls.cert, its key, made here, at uplink.tls.key),
// mode 0600. Over a bad link it retries with backoff until --timeout; a
// retry is the same attempt, so a lost answer costs no token. It stops at
// once on a refusal (a used, expired or unknown token, a site config
// ingest's profiles reject).
func enroll(ctx context.Context, env Env, args []string) int {
	fs := flag.NewFlagSet("enroll", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	var (
		base      = fs.String("url", "", "ingest's HTTPS `URL`, e.g. https://ingest.comune.fi.example:8443")
		tokenFile = fs.String("token-file", "", "`FILE` holding the enrolment token (else $"+EnrolTokenEnv+")")
		caFile    = fs.String("ca", "", "PEM `FILE` of the CA of ingest's HTTPS certificate (default: the system's)")
		csr       = fs.Bool("csr", false, "also ask for a client certificate for uplink.tls.cert (its key is made here, at uplink.tls.key)")
		profiles  = fs.String("profiles", "", "firmware profile `DIR` (overrides the site config's profiles)")
		timeout   = fs.Duration("timeout", 10*time.Minute, "keep retrying over a bad link this long")
	)
	files, err := parseInterleaved(fs, args)
	if err != nil {
		return ExitUsage
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(env.Stderr, "ponte-ctl enroll: "+format+"\n", a...)
		return ExitFail
	}
	if len(files) != 1 || *base == "" {
		fmt.Fprintln(env.Stderr, "ponte-ctl enroll: expected SITE.yaml --url https://INGEST:PORT --token-file FILE")
		return ExitUsage
	}
	u, err := url.Parse(*base)
	if err != nil || u.Host == "" {
		fmt.Fprintf(env.Stderr, "ponte-ctl enroll: --url %q is not a URL (expected https://host:port)\n", *base)
		return ExitUsage
	}
	if u.Scheme != "https" {
		fmt.Fprintf(env.Stderr, "ponte-ctl enroll: --url %s: enrolment carries credentials, so only https:// (ingest's http.tls)\n", *base)
		return ExitUsage
	}
	token, err := readToken(*tokenFile)
	if err != nil {
		fmt.Fprintf(env.Stderr, "ponte-ctl enroll: %v\n", err)
		return ExitUsage
	}
	path := files[0]
	raw, err := os.ReadFile(path)
	if err != nil {
		return fail("%v", err)
	}
	// Offline: the password file is what enrolment writes.
	s, err := agent.Load(path, site.Options{ProfilesDir: *profiles, Offline: true})
	if err != nil {
		for _, l := range problemLines(err) {
			fmt.Fprintln(env.Stderr, l)
		}
		return fail("%s is not valid; correct it (ponte-ctl validate %s) before enrolling", path, path)
	}
	pwFile := s.Uplink.PasswordFile
	var certFile, keyFile string
	if *csr {
		if s.Uplink.TLS == nil || s.Uplink.TLS.Cert == "" || s.Uplink.TLS.Key == "" {
			return fail("%s: uplink.tls.cert and uplink.tls.key: required with --csr (where the certificate and its key go)", path)
		}
		certFile, keyFile = s.Uplink.TLS.Cert, s.Uplink.TLS.Key
	} else if pwFile == "" {
		return fail("%s: uplink.password_file: required (where the password ingest makes is written), e.g. password_file: /etc/ponte/uplink.password", path)
	}
	req := wire.EnrolRequest{File: path, Site: string(raw), Attempt: randomHex(16)}
	var key *ecdsa.PrivateKey
	if *csr {
		if key, req.CSR, err = newCSR(s.Gateway.ID); err != nil {
			return fail("%v", err)
		}
	}
	client, err := tlsclient.HTTPClient(*caFile, time.Minute)
	if err != nil {
		fmt.Fprintf(env.Stderr, "ponte-ctl enroll: --ca: %v\n", err)
		return ExitUsage
	}
	resp, err := postEnrolment(ctx, env, client, strings.TrimRight(*base, "/")+wire.EnrolPath, token, req, *timeout)
	if err != nil {
		return fail("%v", err)
	}
	if resp.Gateway != s.Gateway.ID {
		return fail("ingest enrolled gateway %q, not %q: refusing its answer", resp.Gateway, s.Gateway.ID)
	}
	verb := "enrolled"
	if resp.Rotated {
		verb = "enrolled again (credentials rotated: the previous ones no longer work)"
	}
	fmt.Fprintf(env.Stdout, "%s gateway %s with %s: %d %s in ingest's inventory\n", verb, resp.Gateway, *base, resp.Devices, plural(resp.Devices, "device", "devices"))
	if pwFile != "" {
		if err := atomicfile.Write(pwFile, []byte(resp.Password+"\n"), 0o600); err != nil {
			return fail("the password could not be written: %v (enrol again with a new token)", err)
		}
		fmt.Fprintf(env.Stdout, "  password: %s (mode 0600)\n", pwFile)
	}
	if key != nil {
		if resp.Certificate == "" {
			return fail("ingest signed no certificate (its enrolment.ca is not set)")
		}
		der, err := x509.MarshalECPrivateKey(key)
		if err != nil {
			return fail("%v", err)
		}
		if err := atomicfile.Write(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), 0o600); err != nil {
			return fail("the key could not be written: %v", err)
		}
		if err := atomicfile.Write(certFile, []byte(resp.Certificate), 0o600); err != nil {
			return fail("the certificate could not be written: %v", err)
		}
		fmt.Fprintf(env.Stdout, "  certificate: %s, key: %s (mode 0600)\n", certFile, keyFile)
	}
	fmt.Fprintln(env.Stdout, "next: start the agent (systemctl enable --now ponte-edge); if it runs, systemctl reload ponte-edge for a changed device list (it reads the new password at its next reconnect); then ponte-ctl status")
	return ExitOK
}

// readToken reads the enrolment token from file or the environment.
func readToken(file string) (string, error) {
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("--token-file: %v", err)
		}
		if t := strings.TrimSpace(string(b)); t != "" {
			return t, nil
		}
		return "", fmt.Errorf("--token-file %s is empty", file)
	}
	if t := strings.TrimSpace(os.Getenv(EnrolTokenEnv)); t != "" {
		return t, nil
	}
	return "", fmt.Errorf("no enrolment token: give --token-file FILE or $%s (the operators issue one with ponte-ctl enrolment token)", EnrolTokenEnv)
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// newCSR makes a P-256 key and a CSR for it.
func newCSR(id string) (*ecdsa.PrivateKey, string, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, "", err
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: id}}, key)
	if err != nil {
		return nil, "", err
	}
	return key, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})), nil
}

// errRefused is an answer that retrying does not change.
var errRefused = errors.New("refused")

// postEnrolment sends the request until ingest answers it, retrying with
// backoff (and ingest's Retry-After) over network errors, 5xx and 429,
// for at most timeout.
func postEnrolment(ctx context.Context, env Env, c *http.Client, target, token string, req wire.EnrolRequest, timeout time.Duration) (wire.EnrolResponse, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	body, _ := json.Marshal(req)
	for attempt := 0; ; attempt++ {
		resp, wait, err := postOnce(ctx, c, target, token, body)
		if err == nil {
			return resp, nil
		}
		if errors.Is(err, errRefused) {
			return wire.EnrolResponse{}, err
		}
		if w := enrollBackoff.Wait(attempt); w > wait {
			wait = w
		}
		deadline, _ := ctx.Deadline()
		if time.Until(deadline) < wait {
			return wire.EnrolResponse{}, fmt.Errorf("%v; gave up after %d attempts in %s (raise --timeout, or try again where the link is better: the same token still works)", err, attempt+1, timeout)
		}
		fmt.Fprintf(env.Stderr, "attempt %d: %v; retrying in %s\n", attempt+1, err, wait.Round(100*time.Millisecond))
		select {
		case <-ctx.Done():
			return wire.EnrolResponse{}, fmt.Errorf("%v; stopped", err)
		case <-time.After(wait):
		}
	}
}

// postOnce sends one attempt; wait is ingest's Retry-After, if any.
func postOnce(ctx context.Context, c *http.Client, target, token string, body []byte) (wire.EnrolResponse, time.Duration, error) {
	r, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return wire.EnrolResponse{}, 0, fmt.Errorf("%w: %v", errRefused, err)
	}
	r.Header.Set("Authorization", "Bearer "+token)
	r.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(r)
	if err != nil {
		var certErr *tls.CertificateVerificationError
		if errors.As(err, &certErr) {
			return wire.EnrolResponse{}, 0, fmt.Errorf("%w: ingest's certificate: %v (give its CA with --ca)", errRefused, certErr)
		}
		return wire.EnrolResponse{}, 0, err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusCreated {
		var out wire.EnrolResponse
		if err := json.Unmarshal(data, &out); err != nil {
			return wire.EnrolResponse{}, 0, fmt.Errorf("ingest's answer: %v", err)
		}
		return out, 0, nil
	}
	var e struct {
		Error string `json:"error"`
	}
	msg := strings.TrimSpace(string(data))
	if json.Unmarshal(data, &e) == nil && e.Error != "" {
		msg = e.Error
	}
	err = fmt.Errorf("ingest answered %s: %s", resp.Status, msg)
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500 {
		secs, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
		return wire.EnrolResponse{}, time.Duration(secs) * time.Second, err
	}
	return wire.EnrolResponse{}, 0, fmt.Errorf("%w: %v", errRefused, err)
}
