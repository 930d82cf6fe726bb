package buffer

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ponte-city/ponte/internal/testenv"
)

const (
	helperDirEnv   = "PONTE_BUFFER_HELPER_DIR"
	helperRoundEnv = "PONTE_BUFFER_HELPER_ROUND"
)

// helperRec is the record the helper appends as its i-th of round r.
func helperRec(round, i int) []byte {
	return fmt.Appendf(nil, "round-%d-rec-%09d-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", round, i)
}

// TestHelperAppender is not a test: TestKill9 runs the test binary with it
// as a subprocess that appends as fast as it can and prints
// "DURABLE <first> <last> <round> <index of first>" once each append is
// reported durable, until it is killed.
func TestHelperAppender(t *testing.T) {
	dir := os.Getenv(helperDirEnv)
	if dir == "" {
		return // only a subprocess of TestKill9 does anything
	}
	round, _ := strconv.Atoi(os.Getenv(helperRoundEnv))
	b, err := Open(context.Background(), Config{Dir: dir, SegmentBytes: 256 << 10, SyncInterval: 5 * time.Millisecond})
	if err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		os.Exit(2)
	}
	type pending struct {
		c   Commit
		idx int
	}
	// At most 50,000 records outstanding, within MemoryRecords: faster
	// than the disk, the helper would have its oldest records dropped.
	commits := make(chan pending, 1000)
	go func() {
		for i := 0; ; i += 50 {
			recs := make([][]byte, 50)
			for j := range recs {
				recs[j] = helperRec(round, i+j)
			}
			c, err := b.Append(recs)
			if err != nil {
				fmt.Fprintln(os.Stderr, "append:", err)
				os.Exit(2)
			}
			commits <- pending{c, i}
		}
	}()
	out := bufio.NewWriter(os.Stdout)
	for p := range commits {
		if err := p.c.Wait(context.Background()); err != nil {
			fmt.Fprintln(os.Stderr, "wait:", err)
			os.Exit(2)
		}
		fmt.Fprintf(out, "DURABLE %d %d %d %d\n", p.c.First, p.c.Last, round, p.idx)
		if len(commits) == 0 {
			out.Flush()
		}
	}
}

// TestKill9 kills a process appending at full speed, several times on the
// same directory, and checks after each kill that every record reported
// durable is there exactly once, in order and intact, and that sequence
// numbers go on without reuse.
func TestKill9(t *testing.T) {
	testenv.Integration(t, "a child process killed with SIGKILL, five times")
	dir := t.TempDir()
	seen := map[uint64][]byte{} // every record ever read back, by seq
	var lastSeq uint64
	for round := 1; round <= 5; round++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperAppender$")
		cmd.Env = append(os.Environ(), helperDirEnv+"="+dir, helperRoundEnv+"="+strconv.Itoa(round))
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		pipe, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Collect whole lines only: a line cut by the kill is not a report.
		var stdout strings.Builder
		firstReport, readDone := make(chan struct{}), make(chan struct{})
		go func() {
			defer close(readDone)
			r := bufio.NewReader(pipe)
			reported := false
			for {
				line, err := r.ReadString('\n')
				if err != nil {
					return
				}
				stdout.WriteString(line)
				if !reported {
					reported = true
					close(firstReport)
				}
			}
		}()
		// Kill at a random moment after the helper has reported something
		// durable, so every round tests a crash mid-stream however slow
		// the machine is.
		select {
		case <-firstReport:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			t.Fatalf("round %d: helper reported nothing durable in 30s; stderr: %s", round, stderr.String())
		}
		time.Sleep(time.Duration(rand.IntN(300)) * time.Millisecond)
		if err := cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		<-readDone
		_ = cmd.Wait()
		if strings.Contains(stderr.String(), "open:") || strings.Contains(stderr.String(), "wait:") {
			t.Fatalf("round %d: helper failed: %s", round, stderr.String())
		}

		// What the helper was told is durable.
		durable := map[uint64][]byte{}
		var firstThisRound uint64
		for line := range strings.Lines(stdout.String()) {
			var first, last uint64
			var r, idx int
			if _, err := fmt.Sscanf(line, "DURABLE %d %d %d %d", &first, &last, &r, &idx); err != nil {
				continue
			}
			if firstThisRound == 0 {
				firstThisRound = first
			}
			for s := first; s <= last; s++ {
				durable[s] = helperRec(r, idx+int(s-first))
			}
		}
		if len(durable) == 0 {
			t.Fatalf("round %d: nothing reported durable; stderr: %s", round, stderr.String())
		}
		if firstThisRound <= lastSeq {
			t.Fatalf("round %d: first seq %d reuses a number (last read back %d)", round, firstThisRound, lastSeq)
		}

		b := openT(t, Config{Dir: dir, SegmentBytes: 256 << 10})
		got := readAll(t, b, 0)
		closeT(t, b)
		for i, r := range got {
			if i > 0 && r.Seq != got[i-1].Seq+1 {
				t.Fatalf("round %d: seq %d follows %d", round, r.Seq, got[i-1].Seq)
			}
			if old, ok := seen[r.Seq]; ok && !bytes.Equal(old, r.Data) {
				t.Fatalf("round %d: seq %d was %q, now %q", round, r.Seq, old, r.Data)
			}
			seen[r.Seq] = bytes.Clone(r.Data)
		}
		if got[0].Seq != 1 {
			t.Fatalf("round %d: first record %d, want 1", round, got[0].Seq)
		}
		for s, want := range durable {
			if !bytes.Equal(seen[s], want) {
				t.Fatalf("round %d: durable seq %d: got %q, want %q", round, s, seen[s], want)
			}
		}
		lastSeq = got[len(got)-1].Seq
		t.Logf("round %d: %d reported durable, %d records on disk", round, len(durable), len(got))
	}
}
