// Package natscallout lets gateways enrolled with ingest log in to a NATS
// cluster (broker.nats): a NATS auth callout service.
//
// nats-server knows only the users of its configuration files
// (deploy/nats/accounts.conf). With an auth_callout block (nats-server
// 2.10 or later) it asks a service instead, for every connection of a
// user not listed in auth_users: it publishes an authorization request
// (a JWT it signs, holding the client's username, password, MQTT client
// ID and address) on $SYS.REQ.USER.AUTH in the callout account and waits
// for the answer until its authorization timeout (2 s by default). Every
// ingest instance runs this service on its NATS connection, in one queue
// group, so any instance answers and the loss of one costs nothing.
//
// # Decision
//
// A client is accepted when it is an MQTT client, its username is a
// gateway ID, its MQTT client ID is that ID (or ponte-edge-<ID>, the
// edge's default; so no one resumes another gateway's session), and its
// password matches the bcrypt hash Lookup gives for that ID (a revoked
// gateway has none). The answer is a user JWT, signed with the issuer's
// account key, that places it in the account (PONTE) with exactly the
// permissions accounts.conf gives a static gateway: publish its own
// uplink and status subjects, subscribe to its own ack and command
// subjects, MQTT connections only. Anything else gets a refusal naming
// the reason (logged by the server and by this service, never with the
// password).
//
// Since nats-server sends every user other than the auth_users through
// the callout (also one it found in its own files), the gateways of
// ingest's configuration file are part of Lookup too (package app): with
// the callout, gateways are ingest's business, and accounts.conf lists
// only ingest (and operators' users) as auth_users.
//
// # Limits
//
// bcrypt is slow on purpose (about 50-100 ms per check on a small core):
// requests are checked by Workers goroutines from a queue of Queue; a
// request that finds the queue full is refused at once ("busy"), and one
// that waited past its deadline (the server's, carried in the request,
// or Timeout) is dropped, as the server no longer waits for it. A
// successful check is remembered (an HMAC-SHA256 of hash and password per
// gateway, keyed at random per process, so a leaked table of them is no
// fast oracle for guesses), so a reconnect storm of known gateways costs
// no bcrypt.
//
// Failed logins are throttled as the embedded broker throttles them
// (internal/throttle): a budget per client address (the request's
// ClientInformation.Host) and one per username, by default 10 failures at
// once and one more every 6 s (Config.AddressFailures, UserFailures).
// While either is spent, a request is refused ("throttled") before its
// gateway is looked up or its password checked, so whoever knows a
// gateway ID cannot make every instance spend bcrypt on guesses and fill
// the queue that legitimate logins wait in. As with the embedded broker,
// a user's budget spent by guesses delays that gateway's own logins too
// until it refills. Budgets are per instance.
//
// If no instance answers (ingest down), nats-server refuses the
// connection when its timeout passes: the callout fails closed.
//
// # Issuer key
//
// The answers are signed with an account nkey whose public key is the
// auth_callout's issuer. `ponte-ctl nats-issuer <file>` writes a new seed
// (mode 0600) and prints the public key; broker.nats.callout.issuer_seed_file
// names the seed file. The seed is never logged.
//
// # Not covered
//
// A revoked gateway that is connected stays connected until it
// reconnects (the embedded broker drops it at once); xkey encryption of
// the requests is not used (protect ingest's NATS connection with TLS);
// client certificates are not looked at.
package natscallout
