package opsctl

// ponte-ctl enrolment: the operators' side of enrolment (package
// ingest/enrol). token issues a single-use token for a gateway ID or an ID
// prefix, shown once, for the technician's `ponte-ctl enroll`; list shows
// the enrolled gateways (and with --tokens the tokens); revoke takes a
// gateway's credentials back. All go through ingest's API with an operator
// token, over HTTPS.

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	neturl "net/url"
	"text/tabwriter"
	"time"

	"github.com/ponte-city/ponte/internal/tlsclient"

	"github.com/ponte-city/ponte/ingest/config"
	"github.com/ponte-city/ponte/ingest/enrol"
)

const enrolmentUsage = `Usage:
  ponte-ctl enrolment token --gateway ID | --prefix P [--tenant T] [--ttl 24h]   a single-use token for ponte-ctl enroll
  ponte-ctl enrolment list [--tokens]                                            enrolled gateways (and tokens)
  ponte-ctl enrolment revoke ID                                                  take a gateway's credentials back
  ponte-ctl enrolment token-revoke ID                                            revoke an unused token (it enrols no gateway)
  common: [--url https://INGEST:8443] [--ca FILE] [--token-file FILE] [--config INGEST.yaml] [--json]
      the operator token: --token-file, else $PONTE_OPERATOR_TOKEN, else the first twin.tokens of --config
`

// Enrolment runs "ponte-ctl enrolment token|list|revoke" (args without
// "enrolment") and returns the exit status.
func Enrolment(ctx context.Context, env Env, args []string) int {
	if len(args) == 0 {
		fmt.Fprint(env.Stderr, "ponte-ctl enrolment: expected token, list, revoke or token-revoke\n"+enrolmentUsage)
		return ExitUsage
	}
	sub := args[0]
	fs := flag.NewFlagSet("enrolment "+sub, flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	var (
		gateway   = fs.String("gateway", "", "token: the gateway ID it enrols")
		prefix    = fs.String("prefix", "", "token: or any gateway ID with this prefix")
		tenant    = fs.String("tenant", "", "token: the `TENANT` the gateway belongs to (an operator of one tenant may leave it out)")
		ttl       = fs.Duration("ttl", enrol.DefaultTokenTTL, "token: how long it is valid")
		tokens    = fs.Bool("tokens", false, "list: the tokens too")
		url       = fs.String("url", "", "ingest's HTTPS base `URL` (default from --config http.listen)")
		caFile    = fs.String("ca", "", "PEM `FILE` of the CA of ingest's HTTPS certificate (default: the system's)")
		tokenFile = fs.String("token-file", "", "`FILE` holding an operator token")
		cfgPath   = fs.String("config", "", "ingest's configuration `FILE`: http.listen, twin.tokens")
		asJSON    = fs.Bool("json", false, "print JSON")
		timeout   = fs.Duration("timeout", 30*time.Second, "give up after this long")
	)
	pos, err := parseInterspersed(fs, args[1:])
	if err != nil {
		return ExitUsage
	}
	var cfg *config.Config
	if *cfgPath != "" {
		if cfg, err = config.Load(*cfgPath); err != nil {
			fmt.Fprintf(env.Stderr, "ponte-ctl enrolment: %v\n", err)
			return ExitUsage
		}
	}
	base, token, err := replayTarget(cfg, *url, *tokenFile)
	if err != nil {
		fmt.Fprintf(env.Stderr, "ponte-ctl enrolment %s: %v\n%s", sub, err, enrolmentUsage)
		return ExitUsage
	}
	client, err := tlsclient.HTTPClient(*caFile, *timeout)
	if err != nil {
		fmt.Fprintf(env.Stderr, "ponte-ctl enrolment %s: --ca: %v\n", sub, err)
		return ExitUsage
	}
	call := func(method, path string, body any, out any) bool {
		status, err := callAPI(ctx, client, method, base+path, token, body, out)
		if err != nil {
			fmt.Fprintf(env.Stderr, "ponte-ctl enrolment %s: ingest at %s: %v\n", sub, base, err)
			if status == http.StatusUnauthorized {
				fmt.Fprintln(env.Stderr, "next: give an operator token (one of ingest's twin.tokens) with --token-file or $"+TokenEnv)
			}
			return false
		}
		return true
	}
	switch sub {
	case "token":
		if len(pos) != 0 || (*gateway == "") == (*prefix == "") {
			fmt.Fprint(env.Stderr, "ponte-ctl enrolment token: give --gateway ID or --prefix P\n"+enrolmentUsage)
			return ExitUsage
		}
		var res enrol.TokenResponse
		if !call(http.MethodPost, "/api/v1/enrolment/tokens", enrol.TokenRequest{Gateway: *gateway, Prefix: *prefix, Tenant: *tenant, TTL: ttl.String()}, &res) {
			return ExitFail
		}
		if *asJSON {
			writeJSON(env.Stdout, res)
			return ExitOK
		}
		fmt.Fprintln(env.Stdout, res.Secret)
		fmt.Fprintf(env.Stderr, "token %s for %s, valid until %s, enrols once; shown only now.\nnext: on the gateway, ponte-ctl enroll /etc/ponte/site.yaml --url %s --token-file FILE (the token in FILE)\n",
			res.ID, res.Scope, res.Expires.Local().Format(time.RFC3339), base)
		return ExitOK
	case "list":
		var gws struct {
			Gateways []enrol.Gateway `json:"gateways"`
		}
		var toks struct {
			Tokens []enrol.Token `json:"tokens"`
		}
		if !call(http.MethodGet, "/api/v1/enrolment/gateways", nil, &gws) {
			return ExitFail
		}
		if *tokens && !call(http.MethodGet, "/api/v1/enrolment/tokens", nil, &toks) {
			return ExitFail
		}
		if *asJSON {
			writeJSON(env.Stdout, map[string]any{"gateways": gws.Gateways, "tokens": toks.Tokens})
			return ExitOK
		}
		printEnrolled(env.Stdout, gws.Gateways)
		if *tokens {
			fmt.Fprintln(env.Stdout)
			printTokens(env.Stdout, toks.Tokens)
		}
		return ExitOK
	case "revoke":
		if len(pos) != 1 {
			fmt.Fprint(env.Stderr, "ponte-ctl enrolment revoke: expected one gateway ID\n"+enrolmentUsage)
			return ExitUsage
		}
		if !call(http.MethodPost, "/api/v1/enrolment/gateways/"+pos[0]+"/revoke", nil, nil) {
			return ExitFail
		}
		fmt.Fprintf(env.Stdout, "revoked %s: its connections are closed and refused; its devices stay on the map, marked revoked.\nnext: to bring it back, issue a new token (ponte-ctl enrolment token --gateway %s) and enrol it again\n", pos[0], pos[0])
		return ExitOK
	case "token-revoke":
		if len(pos) != 1 {
			fmt.Fprint(env.Stderr, "ponte-ctl enrolment token-revoke: expected one token ID (the TOKEN column of ponte-ctl enrolment list --tokens)\n"+enrolmentUsage)
			return ExitUsage
		}
		if !call(http.MethodPost, "/api/v1/enrolment/tokens/"+neturl.PathEscape(pos[0])+"/revoke", nil, nil) {
			return ExitFail
		}
		fmt.Fprintf(env.Stdout, "revoked token %s: it enrols no gateway and no longer counts as pending.\n", pos[0])
		return ExitOK
	}
	fmt.Fprintf(env.Stderr, "ponte-ctl enrolment: unknown subcommand %q\n%s", sub, enrolmentUsage)
	return ExitUsage
}

func printEnrolled(w io.Writer, gws []enrol.Gateway) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "GATEWAY\tDEVICES\tENROLLED\tUPDATED\tENROLMENTS\tCERTIFICATE\tSTATE")
	for _, g := range gws {
		state := "active"
		if g.Revoked != nil {
			state = "revoked " + g.Revoked.Local().Format("2006-01-02 15:04")
		}
		cert := "-"
		if g.CertSerial != "" {
			cert = clipText(g.CertSerial, 12)
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%d\t%s\t%s\n", g.ID, g.Devices, g.Enrolled.Local().Format("2006-01-02 15:04"),
			g.Updated.Local().Format("2006-01-02 15:04"), g.Enrolments, cert, state)
	}
	tw.Flush()
	fmt.Fprintf(w, "%d enrolled gateways\n", len(gws))
}

func printTokens(w io.Writer, toks []enrol.Token) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TOKEN\tFOR\tEXPIRES\tUSED")
	for _, t := range toks {
		used := "-"
		if t.Revoked != nil {
			used = "revoked " + t.Revoked.Local().Format("2006-01-02 15:04")
		}
		if t.Used != nil {
			used = t.Used.Local().Format("2006-01-02 15:04") + " by " + t.UsedBy
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", t.ID, t.Scope, t.Expires.Local().Format("2006-01-02 15:04"), used)
	}
	tw.Flush()
}

// callAPI sends body as JSON with the operator token and decodes the
// answer into out; an error answer is an error with ingest's message.
func callAPI(ctx context.Context, c *http.Client, method, url, token string, body, out any) (int, error) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if resp.StatusCode/100 != 2 {
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(data, &e) == nil && e.Error != "" {
			return resp.StatusCode, fmt.Errorf("%s: %s", resp.Status, e.Error)
		}
		return resp.StatusCode, fmt.Errorf("%s: %s", resp.Status, clipText(string(data), 200))
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return resp.StatusCode, fmt.Errorf("answer: %v", err)
		}
	}
	return resp.StatusCode, nil
}
