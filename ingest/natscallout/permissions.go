package natscallout

import (
	"github.com/nats-io/jwt/v2"

	"github.com/ponte-city/ponte/ingest/intake"
	"github.com/ponte-city/ponte/wire"
)

// Permissions returns the subjects gateway may publish to (its uplink,
// status and command reports) and subscribe to (its acks and commands): its own topics of t
// as nats-server names them, the same that deploy/nats/accounts.conf
// gives a static gateway.
func Permissions(t wire.Topics, gateway string) (pub, sub []string) {
	return []string{intake.NATSSubject(t.Up(gateway)), intake.NATSSubject(t.Status(gateway)), intake.NATSSubject(t.Report(gateway))},
		[]string{intake.NATSSubject(t.Ack(gateway)), intake.NATSSubject(t.Cmd(gateway))}
}

// UserClaims returns the user nkey userKey's claims for gateway: placed
// in account, named after the gateway, MQTT connections only, confined to
// its Permissions. They do not expire: the connection lasts until the
// gateway disconnects.
func UserClaims(userKey, gateway, account string, t wire.Topics) *jwt.UserClaims {
	uc := jwt.NewUserClaims(userKey)
	uc.Audience = account
	uc.Name = gateway
	pub, sub := Permissions(t, gateway)
	uc.Pub.Allow.Add(pub...)
	uc.Sub.Allow.Add(sub...)
	uc.AllowedConnectionTypes.Add(jwt.ConnectionTypeMqtt)
	return uc
}
