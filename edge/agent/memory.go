package agent

// Memory limit defaults (see MemoryLimit).
const (
	// MemoryLimitFloor is the least default memory limit: a small site's
	// heap stays far below it, so it only trims peaks.
	MemoryLimitFloor = 16 << 20
	// MemoryLimitBase and MemoryLimitPerDevice make the default for larger
	// sites: about twice the live heap measured per device at 100k
	// points/s (its metrics series, state and poll buffers; 1,000 devices
	// hold 7-9 MB live), plus room for the runtime.
	MemoryLimitBase      = 8 << 20
	MemoryLimitPerDevice = 12 << 10
)

// MemoryLimit is the soft memory limit ponte-edge gives the Go runtime for
// a site of devices when the environment sets none (GOMEMLIMIT wins):
// max(MemoryLimitFloor, MemoryLimitBase + devices x MemoryLimitPerDevice),
// 16 MiB up to 680 devices, 19.7 MiB for 1,000.
//
// Why: with GOGC's default alone the heap goal is twice the live heap, and
// the runtime returns freed pages slowly, so at 100k points/s (1,000
// devices, 7-9 MB live) the agent's RSS rose to 35-39 MB, over the 30 MB
// a roadside box budgets for it. The limit makes the collector run early
// only when the heap nears it (19.7 MiB: RSS 27.7 MB for 2 % more CPU in
// BenchmarkAgentFootprint/10x). It scales with the site because a limit
// under twice the live heap makes the collector run nearly continuously
// (16 MiB at 1,000 devices doubled the agent's CPU). GOGC stays at its
// default, so a small site collects as it always did.
func MemoryLimit(devices int) int64 {
	return max(MemoryLimitFloor, MemoryLimitBase+int64(devices)*MemoryLimitPerDevice)
}
