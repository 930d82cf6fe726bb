package testenv

import (
	"os/exec"
	"runtime"
	"testing"
	"time"
)

// TestCPUBusy: one figure per CPU this process may run on (at least), and
// 0.1 CPU seconds this process spins shows in their sum.
func TestCPUBusy(t *testing.T) {
	before, err := CPUBusy()
	if err != nil {
		t.Fatal(err)
	}
	if len(before) < runtime.NumCPU() {
		t.Fatalf("%d CPUs in /proc/stat, want at least %d", len(before), runtime.NumCPU())
	}
	self0, err := SelfCPU()
	if err != nil {
		t.Fatal(err)
	}
	for self := self0; self-self0 < 0.1; {
		if self, err = SelfCPU(); err != nil {
			t.Fatal(err)
		}
	}
	after, err := CPUBusy()
	if err != nil {
		t.Fatal(err)
	}
	var d float64
	for i := range before {
		d += after[i] - before[i]
	}
	if d < 0.05 {
		t.Fatalf("busy time grew by %.2f s while this process spun for 0.1 CPU s, want at least 0.05", d)
	}
}

// TestWaitIdle: a sleeping process is idle, and WaitIdle waits the quiet
// time asked for.
func TestWaitIdle(t *testing.T) {
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	if d := WaitIdle(t, cmd.Process.Pid, 300*time.Millisecond, 0.02, 10*time.Second); d < 300*time.Millisecond {
		t.Fatalf("WaitIdle returned after %v, before the 300ms of quiet asked for", d)
	}
}
