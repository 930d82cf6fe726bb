package testenv

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// userHZ is the unit of /proc/PID/stat times: 100 on every Linux
// architecture Ponte runs on.
const userHZ = 100

// ProcessCPU returns the CPU seconds (user and system) process pid has
// used, from /proc/PID/stat.
func ProcessCPU(pid int) (float64, error) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// After "pid (comm) ", whose comm may hold spaces, utime and stime are
	// the 12th and 13th fields.
	f := bytes.Fields(stat[bytes.LastIndexByte(stat, ')')+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields after the command, want at least 13", pid, len(f))
	}
	ut, err1 := strconv.ParseInt(string(f[11]), 10, 64)
	st, err2 := strconv.ParseInt(string(f[12]), 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: utime %q, stime %q: not numbers", pid, f[11], f[12])
	}
	return float64(ut+st) / userHZ, nil
}

// SelfCPU returns the CPU seconds (user and system) this process has used.
func SelfCPU() (float64, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, err
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds(), nil
}

// PinCPUs restricts every thread of process pid (0: this process) to the
// CPUs of list (taskset's syntax, e.g. "0" or "1-3") until the test ends,
// then gives it every CPU again. A benchmark uses it to give a server its
// own cores, as on its own machine, so that what runs beside it does not
// take them. It fails the test if taskset cannot be run.
func PinCPUs(t testing.TB, pid int, list string) {
	t.Helper()
	if pid == 0 {
		pid = os.Getpid()
	}
	set := func(l string) error {
		out, err := exec.Command("taskset", "-a", "-p", "-c", l, strconv.Itoa(pid)).CombinedOutput()
		if err != nil {
			return fmt.Errorf("taskset -a -p -c %s %d: %v: %s", l, pid, err, bytes.TrimSpace(out))
		}
		return nil
	}
	if err := set(list); err != nil {
		t.Fatal(err)
	}
	all := fmt.Sprintf("0-%d", runtime.NumCPU()-1)
	t.Cleanup(func() {
		if err := set(all); err != nil && pid == os.Getpid() {
			t.Error(err)
		}
	})
}

// WaitIdle waits until process pid has been idle for quiet: using at most
// share of a core in each 100 ms it is sampled (e.g. a database whose
// compactions and cache snapshots are done), and returns how long it
// waited. A benchmark calls it before each timed part so that the work the
// previous part left behind is not charged to the next. It fails tb if the
// process is not idle within limit or its CPU cannot be read.
func WaitIdle(tb testing.TB, pid int, quiet time.Duration, share float64, limit time.Duration) time.Duration {
	tb.Helper()
	const tick = 100 * time.Millisecond
	start := time.Now()
	last, err := ProcessCPU(pid)
	if err != nil {
		tb.Fatal(err)
	}
	// /proc counts in 10 ms steps: a sample may show one step of work
	// done across its edge.
	allowed := max(share*tick.Seconds(), 1.0/userHZ)
	since := start
	for time.Since(since) < quiet {
		if time.Since(start) > limit {
			tb.Fatalf("process %d not idle (at most %.0f%% of a core for %v) within %v", pid, share*100, quiet, limit)
		}
		time.Sleep(tick)
		now, err := ProcessCPU(pid)
		if err != nil {
			tb.Fatal(err)
		}
		if now-last > allowed {
			since = time.Now()
		}
		last = now
	}
	return time.Since(start)
}

// CPUBusy returns the CPU seconds each CPU has spent busy (user, nice,
// system, irq, softirq and steal: not idle or iowait, and not guest, which
// user already counts) since boot, from /proc/stat, indexed by CPU number. A
// benchmark subtracts its own processes' CPU from the change over a timed
// part to tell how much of the machine something else took meanwhile.
func CPUBusy() ([]float64, error) {
	stat, err := os.ReadFile("/proc/stat")
	if err != nil {
		return nil, err
	}
	var busy []float64
	for line := range bytes.Lines(stat) {
		f := bytes.Fields(line)
		if len(f) < 6 || !bytes.HasPrefix(f[0], []byte("cpu")) || len(f[0]) == 3 {
			continue
		}
		n, err := strconv.Atoi(string(f[0][3:]))
		if err != nil || n < 0 || n > 4096 {
			return nil, fmt.Errorf("/proc/stat: %q: not a CPU number", f[0])
		}
		var sum int64
		for i, v := range f[1:] {
			if i == 3 || i == 4 || i >= 8 { // idle, iowait, guest, guest_nice
				continue
			}
			x, err := strconv.ParseInt(string(v), 10, 64)
			if err != nil {
				return nil, fmt.Errorf("/proc/stat: %s: %q: not a number", f[0], v)
			}
			sum += x
		}
		for len(busy) <= n {
			busy = append(busy, 0)
		}
		busy[n] = float64(sum) / userHZ
	}
	if len(busy) == 0 {
		return nil, fmt.Errorf("/proc/stat: no per-CPU lines")
	}
	return busy, nil
}
