package browser

import "testing"

// TestLoopback: only this machine's addresses pass BlockOutside.
func TestLoopback(t *testing.T) {
	for u, want := range map[string]bool{
		"http://127.0.0.1:4000/map/":               true,
		"http://[::1]:80/x":                        true,
		"http://localhost/api":                     true,
		"data:image/png;base64,AAAA":               true,
		"https://tile.openstreetmap.org/1/2/3.png": false,
		"http://10.0.0.1/":                         false,
		"http://127.0.0.1.evil.example/":           false,
		"http://localhost.evil.example/":           false,
		"wss://example.org/socket":                 false,
		"%zz":                                      false,
	} {
		if got := loopback(u); got != want {
			t.Errorf("loopback(%q) = %v, want %v", u, got, want)
		}
	}
}
