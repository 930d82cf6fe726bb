package subs

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
)

// pattern is one entry of Config.AllowedEndpoints.
type pattern struct {
	scheme string // "" for a host:port pattern (http or https)
	host   string // lower case; "*.x" matches the subdomains of x
	port   string
	path   string // URL prefix patterns: the path prefix ("" for any)
}

// parsePatterns parses AllowedEndpoints, naming the entry at fault.
func parsePatterns(list []string) ([]pattern, error) {
	var out []pattern
	for i, s := range list {
		p, err := parsePattern(s)
		if err != nil {
			return nil, fmt.Errorf("AllowedEndpoints[%d] %q: %w", i, s, err)
		}
		out = append(out, p)
	}
	return out, nil
}

func parsePattern(s string) (pattern, error) {
	var p pattern
	hostport := s
	if strings.Contains(s, "://") {
		u, err := url.Parse(s)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
			return p, errors.New("a URL prefix is http(s)://host[:port][/path], without user, query or fragment")
		}
		p.scheme, p.path = u.Scheme, strings.TrimSuffix(u.Path, "/")
		hostport = u.Host
		if u.Port() == "" {
			hostport = net.JoinHostPort(u.Hostname(), defaultPort(u.Scheme))
		}
	}
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return p, errors.New("expected host:port or an http(s) URL prefix")
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return p, fmt.Errorf("port %q is not 1..65535", port)
	}
	if host == "" || host == "*" || strings.Contains(host[min(1, len(host)):], "*") || (strings.HasPrefix(host, "*") && !strings.HasPrefix(host, "*.")) {
		return p, errors.New(`the host is a name, an IP address, or "*." and a domain`)
	}
	p.host, p.port = strings.ToLower(host), port
	return p, nil
}

func defaultPort(scheme string) string {
	if scheme == "https" {
		return "443"
	}
	return "80"
}

// match reports whether u (absolute http or https) is allowed by p.
func (p pattern) match(u *url.URL) bool {
	if p.scheme != "" && u.Scheme != p.scheme {
		return false
	}
	port := u.Port()
	if port == "" {
		port = defaultPort(u.Scheme)
	}
	if port != p.port || !p.matchHost(strings.ToLower(u.Hostname())) {
		return false
	}
	return p.path == "" || u.Path == p.path || strings.HasPrefix(u.Path, p.path+"/")
}

func (p pattern) matchHost(h string) bool {
	if d, ok := strings.CutPrefix(p.host, "*."); ok {
		return strings.HasSuffix(h, "."+d)
	}
	return h == p.host
}

// allowedURL reports whether notifications may go to u.
func allowedURL(ps []pattern, u *url.URL) bool {
	for _, p := range ps {
		if p.match(u) {
			return true
		}
	}
	return false
}

// internal says whether ip is an address a hostile endpoint would aim at
// to reach the ingest host itself: loopback, link-local (cloud metadata
// at 169.254.169.254), unspecified, multicast.
func internal(ip netip.Addr) bool {
	ip = ip.Unmap()
	return ip.IsLoopback() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() || ip.IsUnspecified() || ip.IsMulticast()
}

// dialControl refuses connections to internal addresses unless a pattern
// names that address (or localhost) and port literally: an allowed host
// name that resolves to 127.0.0.1 (DNS rebinding) is refused.
func dialControl(ps []pattern) func(network, address string, _ syscall.RawConn) error {
	return func(_, address string, _ syscall.RawConn) error {
		ap, err := netip.ParseAddrPort(address)
		if err != nil || !internal(ap.Addr()) {
			return nil
		}
		port := strconv.Itoa(int(ap.Port()))
		for _, p := range ps {
			if p.port != port {
				continue
			}
			if a, err := netip.ParseAddr(strings.Trim(p.host, "[]")); err == nil && a.Unmap() == ap.Addr().Unmap() {
				return nil
			}
			if p.host == "localhost" && ap.Addr().Unmap().IsLoopback() {
				return nil
			}
		}
		return fmt.Errorf("%w: %s", errInternalAddress, address)
	}
}

// Errors of endpoints refused at delivery.
var (
	// errInternalAddress is a dial refused by dialControl.
	errInternalAddress = errors.New("refused to connect to an internal address not named in AllowedEndpoints")
	// errNotAllowed is an endpoint AllowedEndpoints no longer allows (a
	// subscription loaded from Dir after the list changed).
	errNotAllowed = errors.New("the endpoint is not among AllowedEndpoints")
)

// dialer returns the DialContext of the notification client.
func dialer(ps []pattern) func(ctx context.Context, network, addr string) (net.Conn, error) {
	d := &net.Dialer{Control: dialControl(ps)}
	return d.DialContext
}
