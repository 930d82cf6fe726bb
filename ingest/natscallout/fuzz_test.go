package natscallout

import (
	"testing"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"
	"golang.org/x/crypto/bcrypt"

	"github.com/ponte-city/ponte/wire"
)

// signedRequest returns a request as nats-server signs it, for user with
// password from an MQTT client with clientID at 127.0.0.1.
func signedRequest(tb testing.TB, user, password, clientID string) []byte {
	tb.Helper()
	return signedRequestFrom(tb, "127.0.0.1", user, password, clientID)
}

// signedRequestFrom is signedRequest from a client at host.
func signedRequestFrom(tb testing.TB, host, user, password, clientID string) []byte {
	tb.Helper()
	server, _ := nkeys.CreateServer()
	serverID, _ := server.PublicKey()
	ukp, _ := nkeys.CreateUser()
	upub, _ := ukp.PublicKey()
	claims := jwt.NewAuthorizationRequestClaims(serverID)
	claims.Audience = "nats-authorization-request"
	claims.UserNkey = upub
	claims.Server = jwt.ServerID{Name: "n1", ID: serverID}
	claims.ClientInformation = jwt.ClientInformation{Host: host, Kind: "Client", Type: "mqtt", MQTT: clientID}
	claims.ConnectOptions = jwt.ConnectOptions{Username: user, Password: password}
	token, err := claims.Encode(server)
	if err != nil {
		tb.Fatal(err)
	}
	return []byte(token)
}

// FuzzDecide: whatever arrives on the callout subject, decoding and
// deciding never panics, and nothing but the right password of a known
// gateway is allowed.
func FuzzDecide(f *testing.F) {
	hash, err := bcrypt.GenerateFromPassword([]byte("pw-gw1"), bcrypt.MinCost)
	if err != nil {
		f.Fatal(err)
	}
	issuer, _ := nkeys.CreateAccount()
	s, err := New(Config{Issuer: issuer, Topics: wire.Topics{}, Lookup: func(user string) ([]byte, bool) {
		return hash, user == "gw1"
	}})
	if err != nil {
		f.Fatal(err)
	}
	good := signedRequest(f, "gw1", "pw-gw1", "gw1")
	f.Add(good)
	f.Add(signedRequest(f, "gw1", "wrong", "gw1"))
	f.Add(signedRequest(f, "", "", ""))
	f.Add(good[:len(good)/2])
	f.Add([]byte("eyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ.e30.AAAA"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		req, err := decodeRequest(data)
		if err != nil {
			return
		}
		d := s.decide(req)
		co := req.ConnectOptions
		if d.reason == ReasonOK && (co.Username != "gw1" || co.Password != "pw-gw1" || d.gateway != "gw1") {
			t.Fatalf("allowed user %q with password %q", co.Username, co.Password)
		}
	})
}

// TestDecideGood: the seed request of a known gateway with its password
// is allowed (so FuzzDecide's property is not vacuous).
func TestDecideGood(t *testing.T) {
	hash, _ := bcrypt.GenerateFromPassword([]byte("pw-gw1"), bcrypt.MinCost)
	issuer, _ := nkeys.CreateAccount()
	s, err := New(Config{Issuer: issuer, Lookup: func(string) ([]byte, bool) { return hash, true }})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		user, pass, client, want string
	}{
		{"gw1", "pw-gw1", "gw1", ReasonOK},
		{"gw1", "pw-gw1", "ponte-edge-gw1", ReasonOK},
		{"gw1", "pw-gw1", "ponte-edge-gw2", ReasonClientID},
		{"gw1", "pw-gw2", "gw1", ReasonPassword},
		{"gw/1", "pw-gw1", "gw/1", ReasonUnknown},
	} {
		req, err := decodeRequest(signedRequest(t, c.user, c.pass, c.client))
		if err != nil {
			t.Fatal(err)
		}
		// Twice: the second through the remembered check.
		for range 2 {
			if d := s.decide(req); d.reason != c.want {
				t.Errorf("%s/%s as %s: %s; want %s", c.user, c.pass, c.client, d.reason, c.want)
			}
		}
	}
}
