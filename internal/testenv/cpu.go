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
