package buffer

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string // substring of the error; "" for valid
	}{
		{"defaults", Config{Dir: "/x"}, ""},
		{"no dir", Config{}, "dir: is required"},
		{"tiny segment", Config{Dir: "/x", SegmentBytes: 100}, "segment_bytes"},
		{"cap below two segments", Config{Dir: "/x", SegmentBytes: 1 << 20, MaxBytes: 1 << 20}, "max_bytes"},
		{"small cap shrinks the default segment", Config{Dir: "/x", MaxBytes: 8 << 20}, ""},
		{"negative age", Config{Dir: "/x", MaxAge: -time.Second}, "max_age"},
		{"sync interval too long", Config{Dir: "/x", SyncInterval: time.Hour}, "sync_interval"},
		{"negative memory", Config{Dir: "/x", MemoryRecords: -1}, "memory_records"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want ErrConfig mentioning %q", err, tt.want)
			}
		})
	}
}

func TestAppendEdgeCases(t *testing.T) {
	b := openT(t, Config{Dir: t.TempDir()})
	defer closeT(t, b)
	t.Run("empty append", func(t *testing.T) {
		c, err := b.Append(nil)
		if err != nil || c.First != 0 || c.Wait(t.Context()) != nil {
			t.Fatalf("empty append: %+v %v", c, err)
		}
	})
	t.Run("too large", func(t *testing.T) {
		if _, err := b.Append([][]byte{{1}, make([]byte, MaxRecordBytes+1)}); !errors.Is(err, ErrTooLarge) {
			t.Fatalf("err %v, want ErrTooLarge", err)
		}
		if s := b.Stats(); s.LastSeq != 0 {
			t.Fatalf("a refused append took sequence numbers: %+v", s)
		}
	})
	t.Run("changed signals durable records", func(t *testing.T) {
		ch := b.Changed()
		if _, err := b.Append([][]byte{rec(0)}); err != nil {
			t.Fatal(err)
		}
		<-ch
		if got, err := b.Read(0, 10, 0); err != nil || len(got) != 1 {
			t.Fatalf("read after Changed: %d records, %v", len(got), err)
		}
	})
	t.Run("maxBytes limits a read but returns at least one", func(t *testing.T) {
		appendN(t, b, 1, 9)
		got, err := b.Read(0, 100, 1)
		if err != nil || len(got) != 1 {
			t.Fatalf("read: %d records, %v", len(got), err)
		}
		got, err = b.Read(0, 100, 3*len(rec(0)))
		if err != nil || len(got) != 3 {
			t.Fatalf("read: %d records, %v", len(got), err)
		}
	})
}
