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
// which gateway used it and when; a wrong secret is just unknown).
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
// # Files
//
// Dir holds registry.json (tokens and gateways, no secret in the clear)
// and sites/<gateway>.yaml. Only ingest writes them, mode 0600, in a
// folder of mode 0700.
package enrol
