package subs

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"path"
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
		if err := checkPath(u); err != nil {
			return p, err
		}
		p.scheme, p.path = u.Scheme, strings.TrimSuffix(cleanPath(u.Path), "/")
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
	if p.path == "" {
		return true
	}
	if checkPath(u) != nil {
		return false
	}
	up := cleanPath(u.Path)
	return up == p.path || strings.HasPrefix(up, p.path+"/")
}

// Errors of an endpoint's path: a path the receiving server would
// resolve elsewhere than it reads ("/ngsi/../admin" passing the prefix
// "/ngsi/") is refused rather than normalised, since servers disagree on
// how (percent-decoding, backslashes, "..;").
var (
	errDotSegment = errors.New(`a path with a dot segment ("." or "..", raw or percent-encoded) is not accepted`)
	errBackslash  = errors.New("a path with a backslash (raw or percent-encoded) is not accepted")
)

// maxUnescape bounds the percent-decoding rounds of checkPath: enough for
// "%25252e" and the like, bounded for hostile input.
const maxUnescape = 4

// checkPath refuses u's path if it holds, after up to maxUnescape rounds
// of percent-decoding, a backslash or a dot segment (a segment that is
// "." or ".." before any ";parameters").
func checkPath(u *url.URL) error {
	p := u.EscapedPath()
	for range maxUnescape {
		d, err := url.PathUnescape(p)
		if err != nil || d == p {
			break
		}
		p = d
	}
	if strings.Contains(p, "\\") {
		return errBackslash
	}
	for seg := range strings.SplitSeq(p, "/") {
		seg, _, _ = strings.Cut(seg, ";")
		if seg == "." || seg == ".." {
			return errDotSegment
		}
	}
	return nil
}

// cleanPath is p rooted and without repeated slashes (checkPath has
// refused dot segments), as prefixes are compared.
func cleanPath(p string) string {
	return path.Clean("/" + p)
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

// internalPrefixes are the internal ranges netip.Addr has no method for.
// Read-only.
var internalPrefixes = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),      // "this network": 0.0.0.0 reaches the host itself
	netip.MustParsePrefix("100.64.0.0/10"),  // shared address space, CGNAT (RFC 6598)
	netip.MustParsePrefix("64:ff9b::/96"),   // NAT64 well-known prefix (RFC 6052): any IPv4 behind it
	netip.MustParsePrefix("64:ff9b:1::/48"), // NAT64 local-use prefix (RFC 8215)
	netip.MustParsePrefix("::/96"),          // IPv4-compatible (deprecated), never a public endpoint
}

// internal says whether ip is an address a hostile endpoint would aim at
// to reach the ingest host or its network rather than the Internet:
// loopback, link-local (cloud metadata at 169.254.169.254), unspecified,
// multicast, private (RFC 1918, and ULA fc00::/7), CGNAT 100.64.0.0/10,
// NAT64, in IPv4 or IPv4-mapped IPv6 form.
func internal(ip netip.Addr) bool {
	ip = ip.Unmap()
	if ip.IsLoopback() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() || ip.IsUnspecified() ||
		ip.IsMulticast() || ip.IsInterfaceLocalMulticast() || ip.IsPrivate() {
		return true
	}
	for _, p := range internalPrefixes {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// dialControl refuses connections to internal addresses unless a pattern
// names that address (or localhost, for loopback) and port literally: an
// allowed host name that resolves to 127.0.0.1 or 10.0.0.5 (DNS
// rebinding) is refused. An address it cannot read is refused too.
func dialControl(ps []pattern) func(network, address string, _ syscall.RawConn) error {
	return func(_, address string, _ syscall.RawConn) error {
		ap, err := netip.ParseAddrPort(address)
		if err != nil {
			return fmt.Errorf("%w: unreadable address %q", errInternalAddress, address)
		}
		if !internal(ap.Addr()) {
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
