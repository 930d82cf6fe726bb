// Package enrol is ingest's enrolment registry: the gateways that enrolled
// with `ponte-ctl enroll`, their devices and positions (their site
// configs, kept as sent) and their uplink credentials. With the site
// configs of ingest's own configuration file it is the one device
// inventory: ingest tags readings from it and the twin places sites from
// it, and an enrolment that adds or moves devices changes both at once
// (Config.OnChange), without a restart.
//
// # Tokens
//
// An operator issues an enrolment token (IssueToken; POST
// /api/v1/enrolment/tokens with an operator token; `ponte-ctl enrolment
// token`) for one gateway ID or for an ID prefix ("fi-lighting-"), valid
// for a time (default 24h, at most 30 days). It is shown once:
// "pte1.<id>.<secret>"; the registry keeps the ID and a SHA-256 of the
// secret. It enrols one gateway once: a used, expired or unknown token is
// refused, and the refusal says which (the holder of a used token learns
// which gateway used it and when; a wrong secret is just unknown). An
// unused token can be revoked (RevokeToken; POST
// /api/v1/enrolment/tokens/{id}/revoke; `ponte-ctl enrolment
// token-revoke`): it is then refused as revoked. Each tenant has a share
// of the pending tokens and of the gateways (limits.go).
//
// # Enrolment
//
// A gateway sends its site config with the token (wire.EnrolRequest to
// wire.EnrolPath, over HTTPS). The registry checks it as ingest reads
// every site config (internal/site, offline, against ingest's firmware
// profiles; errors at their lines), checks the gateway ID against the
// token's scope and the broker's own rules (Config.Check), makes a new
// random password (and, with a CA and a CSR, signs a client certificate
// whose common name is the gateway ID), writes the site config and the
// registry atomically (write, fsync, rename, fsync the folder), marks the
// token used, and only then answers. Enrolling again, with a new token,
// replaces the site config and rotates the credentials: the old password
// and certificate stop working at once.
//
// # Revocation
//
// Revoke (POST /api/v1/enrolment/gateways/{id}/revoke; `ponte-ctl
// enrolment revoke`) removes a gateway's credentials: the embedded broker
// ends its connections and refuses its reconnects, Mosquitto's password
// and ACL files (mosquitto.go) lose its entries, and a certificate it
// holds is no longer the current one. Its devices stay in the inventory,
// marked revoked on the map, until it enrols again with a new token.
//
// # Files, or a bucket
//
// Dir holds registry.json (tokens and gateways, no secret in the clear)
// and sites/<gateway>.yaml. Only ingest writes them, mode 0600, in a
// folder of mode 0700.
//
// With Config.NATS the registry is instead a replicated JetStream
// key-value bucket (kvstore.go; default "ponte-enrol") shared by the
// ingest instances of a cluster: a key per token, per gateway
// (KVGatewayKey: the record with its password's bcrypt hash, which a NATS
// auth callout may read) and per site config (named by its content's
// hash, so a record never meets another enrolment's site config). A whole
// registry in one value would pass NATS's 1 MB payload limit long before
// DefaultMaxGateways. Writes are compare-and-swap on the revision read
// from the bucket stream's leader (internal/natskv); the token is claimed
// first, so of two instances given one token at once one enrols and the
// other refuses it or, for a retry of the same attempt, answers the same
// (replay.go). The claim carries the gateway's new record: if its
// instance fails before writing it, the retry completes it. Enrolments of
// one gateway are ordered by their claims' revisions in the bucket, never
// by the instances' clocks: an enrolment overtaken before its record was
// written (by a later claim, or a revocation) is refused (409 Conflict),
// never answered with a password the bucket does not hold; so is a retry
// whose enrolment is no longer the gateway's current one.
//
// Both stores sit under one seam (store.go): the registry keeps a view,
// built from the records a store hands back with their revisions (its own
// writes, and with a bucket every instance's through a watch), taking a
// record only if it is newer than what it holds: OnChange hears each
// change once, in order per gateway, on every instance. MaxGateways and
// MaxPendingTokens are checked against the view: with a bucket, instances
// acting at the same moment may each pass them by one.
package enrol
