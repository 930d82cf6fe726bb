package opsctl

// ponte-ctl deadletter: for operators of the central ingest (not the
// roadside), reading ingest's dead-letter directory and asking ingest to
// replay a letter. list and show read the directory directly (they work
// while ingest is down); replay goes through ingest's HTTP API
// (POST /api/v1/deadletters/{id}/replay with an operator token), because
// only ingest can put readings through its pipeline: validation, dedup,
// InfluxDB, the twin. See package ingest/app for the replay's design.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ponte-city/ponte/ingest/config"
	"github.com/ponte-city/ponte/ingest/deadletter"
)

const deadletterUsage = `Usage:
  ponte-ctl deadletter list [--dir DIR | --config INGEST.yaml] [--gateway ID] [--reason R] [--json]
  ponte-ctl deadletter show ID [--dir DIR | --config INGEST.yaml] [--json]
  ponte-ctl deadletter replay ID [--url http://INGEST:8080] [--token-file FILE] [--config INGEST.yaml] [--timeout 1m]
      the operator token: --token-file, else $PONTE_OPERATOR_TOKEN, else the first twin.tokens of --config
`

// TokenEnv is the environment variable replay reads the operator token from.
const TokenEnv = "PONTE_OPERATOR_TOKEN"

// Deadletter runs "ponte-ctl deadletter list|show|replay" (args without
// "deadletter") and returns the exit status.
func Deadletter(ctx context.Context, env Env, args []string) int {
	if len(args) == 0 {
		fmt.Fprint(env.Stderr, "ponte-ctl deadletter: expected list, show or replay\n"+deadletterUsage)
		return ExitUsage
	}
	fs := flag.NewFlagSet("deadletter "+args[0], flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	var (
		dir       = fs.String("dir", "", "dead-letter `DIR` (ingest's dead_letter.dir)")
		cfgPath   = fs.String("config", "", "ingest's configuration `FILE`: dead_letter.dir, http.listen, twin.tokens")
		gateway   = fs.String("gateway", "", "list: only this gateway's letters")
		reason    = fs.String("reason", "", "list: only letters with this reason")
		asJSON    = fs.Bool("json", false, "print JSON instead of a table")
		url       = fs.String("url", "", "replay: ingest's HTTP base `URL` (default from --config http.listen)")
		tokenFile = fs.String("token-file", "", "replay: `FILE` holding an operator token")
		timeout   = fs.Duration("timeout", time.Minute, "replay: give up after this long (ingest waits for InfluxDB)")
	)
	pos, err := parseInterspersed(fs, args[1:])
	if err != nil {
		return ExitUsage
	}
	var cfg *config.Config
	if *cfgPath != "" {
		if cfg, err = config.Load(*cfgPath); err != nil {
			fmt.Fprintf(env.Stderr, "ponte-ctl deadletter: %v\n", err)
			return ExitUsage
		}
		if *dir == "" {
			*dir = cfg.DeadLetter.Dir
		}
	}
	needID := func() (string, bool) {
		if len(pos) != 1 {
			fmt.Fprintf(env.Stderr, "ponte-ctl deadletter %s: expected one letter ID (see ponte-ctl deadletter list)\n%s", args[0], deadletterUsage)
			return "", false
		}
		return pos[0], true
	}
	switch args[0] {
	case "list", "show":
		if *dir == "" {
			fmt.Fprintf(env.Stderr, "ponte-ctl deadletter %s: --dir or --config is required\n%s", args[0], deadletterUsage)
			return ExitUsage
		}
		if args[0] == "list" {
			if len(pos) != 0 {
				fmt.Fprintf(env.Stderr, "ponte-ctl deadletter list: unexpected argument %q\n", pos[0])
				return ExitUsage
			}
			return listLetters(env, *dir, *gateway, *reason, *asJSON)
		}
		id, ok := needID()
		if !ok {
			return ExitUsage
		}
		return showLetter(env, *dir, id, *asJSON)
	case "replay":
		id, ok := needID()
		if !ok {
			return ExitUsage
		}
		base, token, err := replayTarget(cfg, *url, *tokenFile)
		if err != nil {
			fmt.Fprintf(env.Stderr, "ponte-ctl deadletter replay: %v\n", err)
			return ExitUsage
		}
		ctx, cancel := context.WithTimeout(ctx, *timeout)
		defer cancel()
		return replayLetter(ctx, env, base, token, id, *asJSON)
	}
	fmt.Fprintf(env.Stderr, "ponte-ctl deadletter: unknown subcommand %q\n%s", args[0], deadletterUsage)
	return ExitUsage
}

// parseInterspersed parses flags before and after positional arguments
// ("show ID --dir X" as well as "show --dir X ID").
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func listLetters(env Env, dir, gateway, reason string, asJSON bool) int {
	all, err := deadletter.List(dir)
	if err != nil {
		fmt.Fprintf(env.Stderr, "ponte-ctl deadletter list: %v\n", err)
		return ExitFail
	}
	letters := all[:0:0]
	for _, l := range all {
		if (gateway == "" || l.Gateway == gateway) && (reason == "" || l.Reason == reason) {
			letters = append(letters, l)
		}
	}
	if asJSON {
		if letters == nil {
			letters = []deadletter.Letter{}
		}
		writeJSON(env.Stdout, letters)
		return ExitOK
	}
	if len(letters) == 0 {
		fmt.Fprintf(env.Stdout, "no dead letters in %s\n", dir)
		return ExitOK
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tTIME (UTC)\tGATEWAY\tREASON\tREADINGS\tWHAT\tREPLAYED")
	for _, l := range letters {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\n", l.ID, l.Time.UTC().Format("2006-01-02 15:04:05"),
			orDash(l.Gateway), l.Reason, l.Readings, what(l), replayed(l))
	}
	tw.Flush()
	fmt.Fprintf(env.Stdout, "%d letters; ponte-ctl deadletter show ID for the readings\n", len(letters))
	return ExitOK
}

// what names a letter's first refused reading, or its detail.
func what(l deadletter.Letter) string {
	if len(l.Entries) == 0 {
		return clipText(l.Detail, 60)
	}
	e := l.Entries[0]
	s := e.Device + "/" + e.Point + " at " + e.Time.UTC().Format(time.RFC3339Nano)
	if n := len(l.Entries) + l.EntriesOmitted - 1; n > 0 {
		s += fmt.Sprintf(" (+%d more)", n)
	}
	return s
}

func replayed(l deadletter.Letter) string {
	if l.Replayed == nil {
		return "-"
	}
	s := fmt.Sprintf("%s: %d written", l.Replayed.Time.UTC().Format("2006-01-02 15:04"), l.Replayed.Written)
	if l.Replayed.DeadLettered > 0 {
		s += fmt.Sprintf(", %d refused again", l.Replayed.DeadLettered)
	}
	return s
}

func showLetter(env Env, dir, id string, asJSON bool) int {
	l, payload, err := deadletter.Read(dir, id)
	if err != nil {
		fmt.Fprintf(env.Stderr, "ponte-ctl deadletter show: %v\n", err)
		return ExitFail
	}
	if asJSON {
		writeJSON(env.Stdout, l)
		return ExitOK
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 0, 2, ' ', 0)
	row := func(k, v string) { fmt.Fprintf(tw, "%s:\t%s\n", k, v) }
	row("id", l.ID)
	row("time", l.Time.UTC().Format(time.RFC3339Nano))
	row("gateway", orDash(l.Gateway))
	row("reason", l.Reason)
	row("detail", orDash(l.Detail))
	if w := l.Window; w != nil {
		row("accepted window", w.From.UTC().Format(time.RFC3339)+" to "+w.To.UTC().Format(time.RFC3339)+" (ingest's clock - max_age .. + max_future)")
	}
	row("arrived by", strings.TrimSpace(l.Transport+" "+l.Topic))
	if l.Epoch != 0 {
		row("epoch", fmt.Sprint(l.Epoch))
	}
	row("payload", fmt.Sprintf("%d bytes (%d read back), %d readings", l.Bytes, len(payload), l.Readings))
	row("replayed", replayed(l))
	tw.Flush()
	if len(l.Entries) > 0 {
		fmt.Fprintln(env.Stdout)
		tw = tabwriter.NewWriter(env.Stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "SEQ\tDEVICE\tPOINT\tTIME (UTC)\tVALUE\tUNIT\tQUALITY")
		for _, e := range l.Entries {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s%s\t%s\t%s\t%s\n", e.Seq, e.Device, e.Point,
				e.Time.UTC().Format(time.RFC3339Nano), outside(l.Window, e.Time), clipText(e.Value, 40), orDash(e.Unit), orDash(e.Quality))
		}
		tw.Flush()
		if l.EntriesOmitted > 0 {
			fmt.Fprintf(env.Stdout, "... and %d more readings in the payload\n", l.EntriesOmitted)
		}
	}
	return ExitOK
}

// outside says by how much t misses the letter's window ("" without one).
func outside(w *deadletter.Window, t time.Time) string {
	switch {
	case w == nil || w.Contains(t):
		return ""
	case t.After(w.To):
		return " (" + t.Sub(w.To).Round(time.Second).String() + " after the window)"
	default:
		return " (" + w.From.Sub(t).Round(time.Second).String() + " before the window)"
	}
}

// replayTarget finds ingest's URL and the operator token.
func replayTarget(cfg *config.Config, url, tokenFile string) (string, string, error) {
	if url == "" && cfg != nil {
		host, port, err := net.SplitHostPort(cfg.HTTP.Listen)
		if err != nil {
			return "", "", fmt.Errorf("http.listen %q of the config: %v", cfg.HTTP.Listen, err)
		}
		if host == "" || host == "0.0.0.0" || host == "::" {
			host = "127.0.0.1"
		}
		scheme := "http://"
		if cfg.HTTP.TLS != nil {
			scheme = "https://"
		}
		url = scheme + net.JoinHostPort(host, port)
	}
	if url == "" {
		return "", "", errors.New("--url or --config is required (ingest's HTTP address)")
	}
	token := ""
	switch {
	case tokenFile != "":
		data, err := os.ReadFile(tokenFile)
		if err != nil {
			return "", "", fmt.Errorf("--token-file: %v", err)
		}
		token = strings.TrimSpace(string(data))
	case os.Getenv(TokenEnv) != "":
		token = os.Getenv(TokenEnv)
	case cfg != nil && cfg.Twin != nil && len(cfg.Twin.Tokens) > 0:
		token = cfg.Twin.Tokens[0]
	}
	if token == "" {
		return "", "", fmt.Errorf("no operator token: --token-file, $%s, or twin.tokens in --config", TokenEnv)
	}
	return strings.TrimRight(url, "/"), token, nil
}

func replayLetter(ctx context.Context, env Env, base, token, id string, asJSON bool) int {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/v1/deadletters/"+id+"/replay", nil)
	if err != nil {
		fmt.Fprintf(env.Stderr, "ponte-ctl deadletter replay: %v\n", err)
		return ExitUsage
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintf(env.Stderr, "ponte-ctl deadletter replay %s: ingest at %s: %v\n", id, base, err)
		return ExitFail
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var res deadletter.ReplayResult
	if err := json.Unmarshal(body, &res); err != nil {
		fmt.Fprintf(env.Stderr, "ponte-ctl deadletter replay %s: ingest answered %s: %s\n", id, resp.Status, clipText(string(bytes.TrimSpace(body)), 200))
		return ExitFail
	}
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintf(env.Stderr, "ponte-ctl deadletter replay %s: ingest answered %s: %s\n", id, resp.Status, res.Error)
		return ExitFail
	}
	if asJSON {
		env.Stdout.Write(body)
	} else {
		fmt.Fprintf(env.Stdout, "replayed %s: %s (written %d, duplicates %d, dead-lettered again %d)\n",
			id, res.Message, res.Written, res.Duplicates, res.DeadLettered)
	}
	if res.DeadLettered > 0 {
		return ExitFail
	}
	return ExitOK
}

func writeJSON(w io.Writer, v any) {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func clipText(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) <= n {
		return s
	}
	return s[:n-3] + "..."
}
