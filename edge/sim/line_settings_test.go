package sim

import (
	"bufio"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ponte-city/ponte/internal/profile"
)

// TestWXT530Settings plays a technician on the simulated WXT530's line:
// aWU answers the settings (M211840EN-D 8.1.1.1), aWU,I=x changes the
// wind update interval and is echoed (8.1.1.3), a value outside 1-3600
// changes nothing, and the interval paces the MWV sentences.
func TestWXT530Settings(t *testing.T) {
	p, err := profile.Load(filepath.Join("..", "..", "firmware-profiles", "vaisala-wxt530-nmea.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	d, err := NewLineDevice(p, 1)
	if err != nil {
		t.Fatal(err)
	}
	port := serveLine(t, d, 30*time.Millisecond)
	lines := make(chan string, 1024)
	go func() {
		sc := bufio.NewScanner(readerFunc(port.Read))
		for sc.Scan() {
			lines <- strings.TrimSuffix(sc.Text(), "\r")
		}
		close(lines)
	}()
	// next returns the next line starting with prefix, counting the
	// wind sentences passed on the way.
	next := func(prefix string) (line string, winds int) {
		t.Helper()
		deadline := time.After(20 * time.Second)
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("line closed waiting for %q", prefix)
				}
				if strings.HasPrefix(l, "$WIMWV,") {
					winds++
				}
				if strings.HasPrefix(l, prefix) {
					return l, winds
				}
			case <-deadline:
				t.Fatalf("no line %q", prefix)
			}
		}
	}
	send := func(s string) {
		t.Helper()
		if _, err := port.Write([]byte(s)); err != nil {
			t.Fatal(err)
		}
	}

	send("0WU\r\n")
	if got, _ := next("0WU,"); got != "0WU,R=01001000&00100100,I=5,A=10,G=1,U=N,D= -90,N=W,F=4" {
		t.Fatalf("aWU answered %q, want the guide's line with the factory interval 5", got)
	}
	send("0WU,I=3600\r\n")
	if got, _ := next("0WU,"); got != "0WU,I=3600" {
		t.Fatalf("aWU,I=3600 answered %q, want its echo", got)
	}
	if v, _ := d.Setting("wind_update_interval"); v != 3600 {
		t.Fatalf("interval %v after aWU,I=3600", v)
	}
	send("0WU,I=0\r\n0WU,I=3601\r\n0WU\r\n") // out of 1-3600: no change, no answer
	if got, _ := next("0WU,"); !strings.Contains(got, ",I=3600,") {
		t.Fatalf("after refused values aWU answered %q, want I=3600", got)
	}
	// At 3600 s, 40 PTU sentences pass without a wind sentence.
	for range 40 {
		if _, winds := next("$WIXDR,C,"); winds > 0 {
			t.Fatal("a wind sentence at a 3600 s interval")
		}
	}
	// At 1 s, wind sentences come again (next fails past its deadline).
	send("0WU,I=1\r\n")
	next("0WU,I=1")
	next("$WIMWV,")
	next("$WIMWV,")
}
