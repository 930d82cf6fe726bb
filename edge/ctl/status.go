package ctl

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ponte-city/ponte/edge/agent"
	"github.com/ponte-city/ponte/edge/command"
	"github.com/ponte-city/ponte/internal/site"
)

// maxStatusBytes bounds the agent's /status answer ctl reads.
const maxStatusBytes = 16 << 20

// status prints a running agent's /status as a technician reads it at the
// cabinet: the gateway, its buffer and uplink, and a line per device with
// its state, counts, and what ingest refused of it and why, then the last
// commands operators sent it and how each ended. Exit 1 when
// the agent cannot be reached or any device is not ok.
func status(ctx context.Context, env Env, args []string) int {
	fs := flag.NewFlagSet("ponte-ctl status", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	url := fs.String("url", "http://"+site.DefaultListen, "the agent's local API `URL`")
	asJSON := fs.Bool("json", false, "print the agent's /status JSON as it is")
	timeout := fs.Duration("timeout", 5*time.Second, "how long to wait for the agent")
	if err := fs.Parse(args); err != nil {
		return ExitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(env.Stderr, "ponte-ctl status: unexpected arguments %q\n", fs.Args())
		return ExitUsage
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	body, err := fetchStatus(ctx, strings.TrimSuffix(*url, "/")+"/status")
	if err != nil {
		fmt.Fprintf(env.Stderr, "ponte-ctl status: %v (is ponte-edge running? systemctl status ponte-edge)\n", err)
		return ExitFail
	}
	var st agent.Status
	if err := json.Unmarshal(body, &st); err != nil {
		fmt.Fprintf(env.Stderr, "ponte-ctl status: %s answered something that is not an agent's status: %v\n", *url, err)
		return ExitFail
	}
	if *asJSON {
		env.Stdout.Write(body)
		if len(body) > 0 && body[len(body)-1] != '\n' {
			fmt.Fprintln(env.Stdout)
		}
	} else {
		printStatus(env.Stdout, st)
	}
	for _, d := range st.Devices {
		if d.State != agent.StateOK {
			return ExitFail
		}
	}
	return ExitOK
}

func fetchStatus(ctx context.Context, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("--url: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxStatusBytes+1))
	if err != nil {
		return nil, err
	}
	if len(body) > maxStatusBytes {
		return nil, errors.New("GET " + url + ": answer larger than 16 MiB")
	}
	return body, nil
}

func printStatus(w io.Writer, st agent.Status) {
	link := "down"
	if st.Uplink.Connected {
		link = "connected"
	}
	fmt.Fprintf(w, "gateway %s  version %s  up %s\n", st.Gateway, st.Version, (time.Duration(st.UptimeSeconds) * time.Second).String())
	fmt.Fprintf(w, "buffer  %d readings waiting, oldest %s, last seq %d, acknowledged %d\n",
		st.Buffer.Records, (time.Duration(st.Buffer.OldestAgeSeconds) * time.Second).String(), st.Buffer.LastSeq, st.Buffer.AckedSeq)
	fmt.Fprintf(w, "uplink  %s to %s", link, st.Uplink.Broker)
	if st.Uplink.LastError != "" {
		fmt.Fprintf(w, " (last error: %s)", st.Uplink.LastError)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "\nDEVICE\tSTATE\tREADINGS\tBAD\tREFUSED\tWHY")
	for _, d := range st.Devices {
		why := d.LastReason
		refused := "0"
		if r := d.Refused; r != nil {
			refused = fmt.Sprint(r.Readings)
			why = fmt.Sprintf("ingest refused %s=%s at %s: %s", r.Point, r.Value, r.Time.UTC().Format(time.RFC3339), r.Reason)
			if r.Detail != "" {
				why += " (" + r.Detail + ")"
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t%s\n", d.Name, d.State, d.Readings, d.BadReadings, refused, why)
	}
	tw.Flush()
	printCommands(w, st.Commands)
}

// printCommands lists the agent's last commands, newest first, if any.
func printCommands(w io.Writer, cmds []command.Entry) {
	if len(cmds) == 0 {
		return
	}
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "\nCOMMAND\tAT\tDEVICE\tPOINT\tVALUE\tSTATUS\tDETAIL")
	for _, c := range cmds {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", c.ID, c.At.UTC().Format(time.RFC3339), c.Device, c.Point,
			strconv.FormatFloat(c.Value, 'g', -1, 64), c.Status, c.Detail)
	}
	tw.Flush()
}
