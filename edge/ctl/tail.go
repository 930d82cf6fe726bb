package ctl

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ponte-city/ponte/edge/agent"
	"github.com/ponte-city/ponte/internal/site"
)

// multi is a repeatable flag.
type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }

// tail prints the local agent's live readings (GET /readings) until
// interrupted: what the sources read, as they read it, before the buffer.
func tail(ctx context.Context, env Env, args []string) int {
	fs := flag.NewFlagSet("ponte-ctl tail", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	base := fs.String("url", "http://"+site.DefaultListen, "the agent's local API `URL`")
	var devices, points multi
	fs.Var(&devices, "device", "only this `device` (repeatable, or comma-separated)")
	fs.Var(&points, "point", "only this `point` (repeatable, or comma-separated)")
	asJSON := fs.Bool("json", false, "print the agent's lines (one JSON object per reading) as they are")
	count := fs.Int("n", 0, "stop after `N` readings (0: until interrupted)")
	if err := fs.Parse(args); err != nil {
		return ExitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(env.Stderr, "ponte-ctl tail: unexpected arguments %q\n", fs.Args())
		return ExitUsage
	}
	q := url.Values{}
	for _, d := range devices {
		q.Add("device", d)
	}
	for _, p := range points {
		q.Add("point", p)
	}
	u := strings.TrimSuffix(*base, "/") + "/readings"
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		fmt.Fprintf(env.Stderr, "ponte-ctl tail: --url: %v\n", err)
		return ExitUsage
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintf(env.Stderr, "ponte-ctl tail: %v (is ponte-edge running? systemctl status ponte-edge)\n", err)
		return ExitFail
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var msg [512]byte
		n, _ := resp.Body.Read(msg[:])
		fmt.Fprintf(env.Stderr, "ponte-ctl tail: GET %s: %s: %s\n", u, resp.Status, strings.TrimSpace(string(msg[:n])))
		return ExitFail
	}
	if !*asJSON {
		fmt.Fprintf(env.Stdout, "%-24s  %-20s  %-20s  %s\n", "TIME", "DEVICE", "POINT", "VALUE")
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	seen := 0
	for sc.Scan() {
		var l agent.TailLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			fmt.Fprintf(env.Stderr, "ponte-ctl tail: a line from the agent is not a reading: %v\n", err)
			return ExitFail
		}
		switch {
		case *asJSON:
			fmt.Fprintf(env.Stdout, "%s\n", sc.Bytes())
		case l.Dropped > 0:
			fmt.Fprintf(env.Stdout, "... %d readings not shown (this terminal reads slower than the devices send; filter with --device or --point)\n", l.Dropped)
		default:
			v := fmt.Sprint(l.Value)
			if l.Unit != "" {
				v += " " + l.Unit
			}
			if l.Quality != "good" {
				v = l.Quality + ": " + l.Reason
			}
			fmt.Fprintf(env.Stdout, "%-24s  %-20s  %-20s  %s\n", l.Time.Local().Format(time.DateTime+".000"), l.Device, l.Point, v)
		}
		if l.Dropped == 0 {
			seen++
			if *count > 0 && seen >= *count {
				return ExitOK
			}
		}
	}
	if ctx.Err() != nil {
		return ExitOK // interrupted
	}
	if err := sc.Err(); err != nil {
		fmt.Fprintf(env.Stderr, "ponte-ctl tail: %v\n", err)
		return ExitFail
	}
	fmt.Fprintln(env.Stderr, "ponte-ctl tail: the agent ended the stream (it is stopping or restarting)")
	return ExitFail
}
