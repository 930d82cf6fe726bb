package testenv

import (
	"io"
	"net"
	"testing"
	"time"
)

// TestProxy checks the proxy's three states against an echo server.
func TestProxy(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { _, _ = io.Copy(c, c); c.Close() }()
		}
	}()
	p := StartProxy(t, ln.Addr().String())
	echo := func(c net.Conn, timeout time.Duration) error {
		if _, err := c.Write([]byte("ping")); err != nil {
			return err
		}
		_ = c.SetReadDeadline(time.Now().Add(timeout))
		buf := make([]byte, 4)
		_, err := io.ReadFull(c, buf)
		return err
	}
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	if err := echo(c, 5*time.Second); err != nil {
		t.Fatalf("through the proxy: %v", err)
	}
	p.Stall()
	if err := echo(c, 300*time.Millisecond); err == nil {
		t.Fatal("an echo came back through a stalled proxy")
	}
	p.Heal()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(c, make([]byte, 4)); err != nil {
		t.Fatalf("the held echo after the stall: %v", err)
	}
	p.Cut()
	if err := echo(c, 5*time.Second); err == nil {
		t.Fatal("a connection survived a cut")
	}
	c2, err := net.Dial("tcp", p.Addr())
	if err == nil {
		if echo(c2, time.Second) == nil {
			t.Fatal("a new connection worked during a cut")
		}
		c2.Close()
	}
	p.Heal()
	c3, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c3.Close()
	if err := echo(c3, 5*time.Second); err != nil {
		t.Fatalf("after heal: %v", err)
	}
}
