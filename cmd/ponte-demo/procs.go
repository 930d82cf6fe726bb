package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// procs owns the demo's child processes. Each runs in its own process
// group (a Ctrl-C on the terminal reaches the demo alone, which then stops
// them in order) with SIGKILL as its parent-death signal, so that even a
// killed demo leaves nothing running. Output goes to <logs>/<name>.log.
type procs struct {
	logs string
	mu   sync.Mutex
	list []*proc
}

// proc is one child process.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
	err  error // valid once done is closed
}

// exited reports whether p has ended, and how.
func (p *proc) exited() (bool, error) {
	select {
	case <-p.done:
		return true, p.err
	default:
		return false, nil
	}
}

// childAttr puts a child in its own process group, killed with the demo.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// start runs bin with args as the child called name.
func (ps *procs) start(name, bin string, args ...string) (*proc, error) {
	logPath := filepath.Join(ps.logs, name+".log")
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = childAttr()
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s (%s): %w", name, bin, err)
	}
	p := &proc{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	ps.mu.Lock()
	ps.list = append(ps.list, p)
	ps.mu.Unlock()
	return p, nil
}

// dead returns the children that ended, with how.
func (ps *procs) dead() []string {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	var out []string
	for _, p := range ps.list {
		if ok, err := p.exited(); ok {
			out = append(out, fmt.Sprintf("%s exited (%v); its log: %s", p.name, err, p.log))
		}
	}
	return out
}

// stopAll stops the children, the last started first: SIGTERM to its
// process group, then SIGKILL after grace. It returns the process IDs it
// stopped, for the caller to check that none is left.
func (ps *procs) stopAll(grace time.Duration) []int {
	ps.mu.Lock()
	list := append([]*proc(nil), ps.list...)
	ps.mu.Unlock()
	var pids []int
	for i := len(list) - 1; i >= 0; i-- {
		p := list[i]
		pids = append(pids, p.cmd.Process.Pid)
		if ok, _ := p.exited(); ok {
			continue
		}
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(grace):
			_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
			<-p.done
		}
	}
	return pids
}

// leftover returns those of pids whose process group still has a member.
func leftover(pids []int) []int {
	var out []int
	for _, pid := range pids {
		if err := syscall.Kill(-pid, 0); err == nil || !errors.Is(err, syscall.ESRCH) {
			out = append(out, pid)
		}
	}
	return out
}

// waitFor polls cond every 100 ms until it holds, ctx ends, within
// passes, or one of the children ended (a component that died will not
// come up).
func (ps *procs) waitFor(ctx context.Context, within time.Duration, what string, cond func() bool) error {
	deadline := time.Now().Add(within)
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		if cond() {
			return nil
		}
		if dead := ps.dead(); len(dead) > 0 {
			return fmt.Errorf("waiting for %s: %s", what, strings.Join(dead, "; "))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: not within %s", what, within)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// tcpOpen reports whether something accepts connections on addr.
func tcpOpen(addr string) func() bool {
	return func() bool {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return false
		}
		c.Close()
		return true
	}
}

// logSays reports whether p's log holds text.
func logSays(p *proc, text string) func() bool {
	return func() bool {
		data, err := os.ReadFile(p.log)
		return err == nil && strings.Contains(string(data), text)
	}
}

// ports hands out free loopback ports, never the same twice in a run.
type ports struct {
	mu    sync.Mutex
	taken map[int]bool
}

// next returns a port nothing listens on now: the kernel picks it (a
// listener on 127.0.0.1:0), and the demo's components bind it soon after.
func (p *ports) next() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.taken == nil {
		p.taken = map[int]bool{}
	}
	for {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			panic(fmt.Sprintf("no loopback port: %v", err)) // the machine cannot run the demo at all
		}
		port := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		if !p.taken[port] {
			p.taken[port] = true
			return port
		}
	}
}
