//go:build ha

package ha

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ponte-city/ponte/twin"
)

// sseClient reads the twin's stream as an operator's map does: from one
// instance, and after a broken connection from the other with its
// Last-Event-ID.
type sseClient struct {
	s *system

	mu       sync.Mutex
	lastID   uint64
	first    uint64              // stream sequence of the first change seen
	changes  map[uint64][]string // stream sequence -> gateway/device changed
	resyncs  int
	resumes  []string // "instance after ID"
	errs     []string
	instance *instance
}

// follow reads from in until ctx ends, moving to the other instance
// whenever the connection breaks or cannot be made.
func (c *sseClient) follow(ctx context.Context, in *instance) {
	c.instance = in
	for ctx.Err() == nil {
		err := c.read(ctx, in)
		if ctx.Err() != nil {
			return
		}
		c.mu.Lock()
		c.errs = append(c.errs, fmt.Sprintf("%s: %v", in.name, err))
		c.mu.Unlock()
		if in == c.s.a {
			in = c.s.b // the instance went away: the other serves the same stream
		}
		select {
		case <-ctx.Done():
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// read reads one connection's events.
func (c *sseClient) read(ctx context.Context, in *instance) error {
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+in.http+"/api/v1/stream", nil)
	req.Header.Set("Authorization", "Bearer "+c.s.token)
	c.mu.Lock()
	if c.lastID != 0 {
		req.Header.Set("Last-Event-ID", strconv.FormatUint(c.lastID, 10))
		c.resumes = append(c.resumes, fmt.Sprintf("%s after %d (stream seq %d)", in.name, c.lastID, c.lastID>>twin.SeqShift))
	}
	c.mu.Unlock()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("stream: %s", resp.Status)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 4<<20)
	var id uint64
	var event, data string
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			c.event(id, event, data)
			id, event, data = 0, "", ""
		case strings.HasPrefix(line, "id: "):
			id, _ = strconv.ParseUint(line[4:], 10, 64)
		case strings.HasPrefix(line, "event: "):
			event = line[7:]
		case strings.HasPrefix(line, "data: "):
			data = line[6:]
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	return fmt.Errorf("stream ended")
}

// event records one event.
func (c *sseClient) event(id uint64, event, data string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch event {
	case "resync":
		c.resyncs++
	case "entity":
		var f struct {
			Properties struct{ Gateway, Device string } `json:"properties"`
		}
		if err := json.Unmarshal([]byte(data), &f); err != nil {
			c.errs = append(c.errs, "entity event: "+err.Error())
			return
		}
		if f.Properties.Device != "" {
			seq := id >> twin.SeqShift
			if c.first == 0 {
				c.first = seq
			}
			c.changes[seq] = append(c.changes[seq], f.Properties.Gateway+"/"+f.Properties.Device)
		}
	}
	if id != 0 {
		c.lastID = id
	}
}

// expectedChanges replays the applied stream with the twin's rule (a
// reading older than its point's latest changes nothing) and returns, per
// stream sequence, the sites its batch changed.
func expectedChanges(msgs []appliedMsg) map[uint64][]string {
	latest := map[string]time.Time{}
	out := map[uint64][]string{}
	for _, m := range msgs {
		changed := map[string]bool{}
		for _, r := range m.batch.Readings {
			k := m.gateway + "/" + r.Device + "/" + r.Point
			if t, ok := latest[k]; ok && t.After(r.Time) {
				continue
			}
			latest[k] = r.Time
			changed[m.gateway+"/"+r.Device] = true
		}
		for s := range changed {
			out[m.seq] = append(out[m.seq], s)
		}
	}
	return out
}

// missed returns the changes of stream sequences after the client's first
// and up to last that it did not receive.
func (c *sseClient) missed(want map[uint64][]string, last uint64) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for seq, sites := range want {
		if seq <= c.first || seq > last {
			continue
		}
		got := map[string]bool{}
		for _, s := range c.changes[seq] {
			got[s] = true
		}
		for _, s := range sites {
			if !got[s] {
				out = append(out, fmt.Sprintf("stream seq %d: %s", seq, s))
			}
		}
	}
	sort.Strings(out)
	return out
}
