package alarms

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ponte-city/ponte/twin"
)

func call(t *testing.T, method, url, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestHTTP: list, one alarm, acknowledgement and its errors.
func TestHTTP(t *testing.T) {
	c := &clock{t: time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)}
	e := newEngine(t, c, "", pm10Rule(0, 0, 0))
	srv := httptest.NewServer(e.Handler())
	defer srv.Close()
	e.observe(reading(75, c.Now(), twin.Fresh))
	id := only(t, e).ID

	code, body := call(t, "GET", srv.URL+"/api/v1/alarms", "")
	var l List
	if err := json.Unmarshal([]byte(body), &l); code != 200 || err != nil || len(l.Alarms) != 1 || l.Open[Major] != 1 || l.Alarms[0].Label.EN != "PM10 high" {
		t.Fatalf("list: %d %s", code, body)
	}
	for _, q := range []string{"?state=closed", "?since=2026-03-02T09:00:00Z", "?entity=other"} {
		if code, body := call(t, "GET", srv.URL+"/api/v1/alarms"+q, ""); code != 200 || !strings.Contains(body, `"alarms":[]`) {
			t.Errorf("list%s: %d %s", q, code, body)
		}
	}
	for q, param := range map[string]string{"?state=burning": "state", "?since=yesterday": "since"} {
		if code, body := call(t, "GET", srv.URL+"/api/v1/alarms"+q, ""); code != 400 || !strings.Contains(body, `"parameter":"`+param+`"`) {
			t.Errorf("list%s: %d %s", q, code, body)
		}
	}
	if code, body := call(t, "GET", srv.URL+"/api/v1/alarms/"+id, ""); code != 200 || !strings.Contains(body, `"state":"raised"`) {
		t.Errorf("get: %d %s", code, body)
	}
	if code, _ := call(t, "GET", srv.URL+"/api/v1/alarms/al-0", ""); code != 404 {
		t.Errorf("get unknown: %d", code)
	}
	for _, bad := range []string{``, `{}`, `{"operator":"  "}`, `{"operator":"a","who":"b"}`, `{"operator":"a\u0007"}`, `[1]`} {
		if code, body := call(t, "POST", srv.URL+"/api/v1/alarms/"+id+"/ack", bad); code != 400 {
			t.Errorf("ack %q: %d %s", bad, code, body)
		}
	}
	if code, _ := call(t, "POST", srv.URL+"/api/v1/alarms/"+id+"/ack", `{"operator":"`+strings.Repeat("x", 5000)+`"}`); code != 413 {
		t.Errorf("ack with a huge body: %d", code)
	}
	code, body = call(t, "POST", srv.URL+"/api/v1/alarms/"+id+"/ack", `{"operator":"Maria Rossi","note":"pattuglia inviata"}`)
	var a Alarm
	if err := json.Unmarshal([]byte(body), &a); code != 200 || err != nil || a.State != Acknowledged || a.Acknowledged.By != "Maria Rossi" || !strings.HasPrefix(a.Acknowledged.Remote, "127.0.0.1:") {
		t.Fatalf("ack: %d %s", code, body)
	}
	if code, body := call(t, "POST", srv.URL+"/api/v1/alarms/"+id+"/ack", `{"operator":"Luca"}`); code != 409 || !strings.Contains(body, "Maria Rossi") {
		t.Errorf("second ack: %d %s", code, body)
	}
	if code, _ := call(t, "POST", srv.URL+"/api/v1/alarms/al-0/ack", `{"operator":"Luca"}`); code != 404 {
		t.Errorf("ack unknown: %d", code)
	}
}

// TestStream: the stream sends the open alarms, then each change.
func TestStream(t *testing.T) {
	c := &clock{t: time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)}
	e := newEngine(t, c, "", pm10Rule(0, 0, 0))
	srv := httptest.NewServer(e.Handler())
	defer srv.Close()
	e.observe(reading(75, c.Now(), twin.Fresh))
	resp, err := http.Get(srv.URL + "/api/v1/alarms/stream")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	r := bufio.NewReader(resp.Body)
	next := func() (string, string) {
		var event, data string
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				t.Fatalf("stream ended: %v", err)
			}
			line = strings.TrimRight(line, "\n")
			switch {
			case strings.HasPrefix(line, "event: "):
				event = line[7:]
			case strings.HasPrefix(line, "data: "):
				data = line[6:]
			case line == "" && event != "":
				return event, data
			}
		}
	}
	if ev, data := next(); ev != "alarms" || !strings.Contains(data, `"state":"raised"`) {
		t.Fatalf("first event %s %s", ev, data)
	}
	e.observe(reading(10, c.add(time.Minute), twin.Fresh))
	ev, data := next()
	var got Event
	if err := json.Unmarshal([]byte(data), &got); ev != "alarm" || err != nil || got.Type != Cleared || got.Alarm.State != Cleared {
		t.Fatalf("change event %s %s", ev, data)
	}
}
