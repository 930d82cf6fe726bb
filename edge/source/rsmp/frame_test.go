package rsmp

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func TestFramer(t *testing.T) {
	tests := []struct {
		name string
		in   string
		max  int
		want []string // messages; "ERR:text" for an error containing text
	}{
		{"one", "{\"a\":1}\f", 0, []string{`{"a":1}`}},
		{"two", "{}\f[]\f", 0, []string{"{}", "[]"}},
		{"leading and consecutive form feeds are skipped", "\f\f{}\f\f\f[]\f", 0, []string{"{}", "[]"}},
		{"whitespace around a message", "\r\n {} \n\f", 0, []string{"{}"}},
		{"partial message at the end", "{}\f{\"a\"", 0, []string{"{}", "ERR:unexpected EOF"}},
		{"too large is skipped, the next one read", "0123456789\f{}\f", 4, []string{"ERR:longer than the limit", "{}"}},
		{"exactly the limit", "0123\f", 4, []string{"0123"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// One byte per read: messages arrive split, as over TCP.
			f := NewFramer(iotest.OneByteReader(strings.NewReader(tc.in)), tc.max)
			for i, want := range tc.want {
				got, err := f.Next()
				if e, ok := strings.CutPrefix(want, "ERR:"); ok {
					if err == nil || !strings.Contains(err.Error(), e) {
						t.Fatalf("message %d: error %v, want one containing %q", i, err, e)
					}
					continue
				}
				if err != nil || string(got) != want {
					t.Fatalf("message %d: %q, %v; want %q", i, got, err, want)
				}
			}
			if _, err := f.Next(); !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("after the messages: %v, want EOF", err)
			}
		})
	}
}

func TestFramerLongMessageAcrossBuffers(t *testing.T) {
	msg := bytes.Repeat([]byte("x"), 10000) // more than the bufio buffer
	f := NewFramer(bytes.NewReader(append(msg, FormFeed)), 0)
	got, err := f.Next()
	if err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("got %d bytes, %v; want %d", len(got), err, len(msg))
	}
}

// FuzzFramer: any byte stream splits into messages within the limit, with
// no form feed inside, and never panics.
func FuzzFramer(f *testing.F) {
	f.Add([]byte("{}\f\f[]\f"), 8)
	f.Add([]byte("\f\f\f"), 1)
	f.Add(bytes.Repeat([]byte("a"), 5000), 100)
	f.Fuzz(func(t *testing.T, data []byte, max int) {
		max = max%4096 + 1
		if max <= 0 {
			max += 4096
		}
		fr := NewFramer(bytes.NewReader(data), max)
		for range len(data) + 1 {
			msg, err := fr.Next()
			if errors.Is(err, ErrTooLarge) {
				continue
			}
			if err != nil {
				return
			}
			if len(msg) == 0 || len(msg) > max || bytes.IndexByte(msg, FormFeed) >= 0 {
				t.Fatalf("message %q (limit %d)", msg, max)
			}
		}
	})
}
