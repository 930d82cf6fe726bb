package app_test

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/ponte-city/ponte/internal/testenv"
)

// sseProcess is a child process (the test binary, TestMain) running the
// SSE clients of a benchmark, so that the ingest process's CPU time
// counts ingest alone. It reads commands on stdin ("warm" and the number
// of warm-up events each client must have, "start", then the number of
// events each client must have and how many of each client's first
// latencies to leave out) and answers on stdout.
type sseProcess struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Reader
}

// startSSEProcess starts the child and waits until its clients are
// subscribed.
func startSSEProcess(httpAddr string) (*sseProcess, error) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envSSEClients+"="+httpAddr)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the SSE clients' process: %w", err)
	}
	p := &sseProcess{cmd: cmd, in: in, out: bufio.NewReaderSize(out, 1<<20)}
	if line, err := p.out.ReadString('\n'); err != nil || line != "ready\n" {
		p.stop()
		return nil, fmt.Errorf("the SSE clients' process: %q, %v", line, err)
	}
	return p, nil
}

// warm waits until each client has the n events of the warm-up.
func (p *sseProcess) warm(n int64) error {
	if _, err := fmt.Fprintf(p.in, "warm %d\n", n); err != nil {
		return err
	}
	if line, err := p.out.ReadString('\n'); err != nil || line != "warm\n" {
		return fmt.Errorf("the SSE clients' process: %q, %v", line, err)
	}
	return nil
}

// start marks the beginning of the measured window (for the child's CPU).
func (p *sseProcess) start() error {
	_, err := io.WriteString(p.in, "start\n")
	return err
}

// wait has the child wait until each client has n events; it returns
// the child's CPU time since start and how many latencies it holds,
// each client's first skip left out.
func (p *sseProcess) wait(n int64, skip int) (time.Duration, int, error) {
	if _, err := fmt.Fprintf(p.in, "%d %d\n", n, skip); err != nil {
		return 0, 0, err
	}
	var cpu int64
	var count int
	if _, err := fmt.Fscanf(p.out, "cpu %d lat %d\n", &cpu, &count); err != nil {
		return 0, 0, fmt.Errorf("the SSE clients' process: %w", err)
	}
	return time.Duration(cpu), count, nil
}

// latencies reads the count latencies the child measured.
func (p *sseProcess) latencies(count int) ([]time.Duration, error) {
	all := make([]time.Duration, 0, count)
	for range count {
		line, err := p.out.ReadString('\n')
		if err != nil {
			return nil, fmt.Errorf("the SSE clients' process: %w", err)
		}
		d, err := strconv.ParseInt(strings.TrimSuffix(line, "\n"), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("the SSE clients' process: %q: %w", line, err)
		}
		all = append(all, time.Duration(d))
	}
	return all, nil
}

// stop ends the child.
func (p *sseProcess) stop() {
	p.in.Close()
	if p.cmd.Process != nil {
		_ = p.cmd.Process.Kill()
	}
	_ = p.cmd.Wait()
}

// runSSEClients is the child's side of sseProcess.
func runSSEClients(addr string) int {
	s, err := connectReaders(addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	fmt.Println("ready")
	in := bufio.NewReader(os.Stdin)
	var warm int64
	if _, err := fmt.Fscanf(in, "warm %d\n", &warm); err != nil {
		fmt.Fprintln(os.Stderr, "SSE clients:", err)
		return 2
	}
	s.wait(warm)
	fmt.Println("warm")
	if line, err := in.ReadString('\n'); err != nil || line != "start\n" {
		fmt.Fprintf(os.Stderr, "SSE clients: %q, %v\n", line, err)
		return 2
	}
	cpu0, err := testenv.SelfCPU()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	var n int64
	var skip int
	if _, err := fmt.Fscanf(in, "%d %d\n", &n, &skip); err != nil {
		fmt.Fprintln(os.Stderr, "SSE clients:", err)
		return 2
	}
	s.wait(n)
	cpu1, err := testenv.SelfCPU()
	all := s.latencies(skip)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	w := bufio.NewWriterSize(os.Stdout, 1<<20)
	fmt.Fprintf(w, "cpu %d lat %d\n", int64((cpu1-cpu0)*float64(time.Second)), len(all))
	for _, d := range all {
		w.WriteString(strconv.FormatInt(int64(d), 10))
		w.WriteByte('\n')
	}
	if err := w.Flush(); err != nil {
		return 2
	}
	return 0
}
