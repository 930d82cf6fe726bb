package api

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// forwardedClient returns the address of r's client: its connection's,
// or, when that is one of the trusted proxies, the rightmost address of
// X-Forwarded-For that is not a trusted proxy (the proxies append, so
// everything left of that address was written by the client and may be
// forged). A malformed entry stops the walk at the last good address.
func forwardedClient(r *http.Request, trusted []netip.Prefix) string {
	if len(trusted) == 0 {
		return r.RemoteAddr
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	addr, err := netip.ParseAddr(host)
	if err != nil || !isTrusted(addr, trusted) {
		return r.RemoteAddr
	}
	client := addr
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break
		}
		client = a.Unmap()
		if !isTrusted(client, trusted) {
			break
		}
	}
	return client.String()
}

// isTrusted says whether a is within one of the trusted prefixes.
func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	a = a.Unmap()
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
