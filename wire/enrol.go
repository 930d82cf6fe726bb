package wire

// Enrolment: how a gateway registers with ingest (ponte-ctl enroll →
// POST EnrolPath on ingest's public HTTPS listener, with a single-use
// enrolment token as "Authorization: Bearer <token>"). The gateway sends
// its site config as written on the box; ingest keeps it as the
// gateway's entry in the device inventory and answers the gateway's
// uplink credentials. See package ingest/enrol.

// EnrolPath is the enrolment route on ingest's public listener.
const EnrolPath = "/api/v1/enrolment/enrol"

// MaxEnrolBytes caps an enrolment request's body.
const MaxEnrolBytes = 1 << 20

// EnrolRequest is the body of an enrolment.
type EnrolRequest struct {
	// File is the site config's path on the gateway, for error messages.
	File string `json:"file"`
	// Site is the site config's YAML, as on the gateway.
	Site string `json:"site"`
	// Attempt is a random string the client makes once per enrolment and
	// sends with every retry of it: if an answer is lost on a bad link,
	// the retry gets the same credentials instead of "token already
	// used" (within an hour).
	Attempt string `json:"attempt,omitempty"`
	// CSR, when set, is a PEM certificate signing request for the
	// gateway's uplink key (ingest signs it when it has a CA; the private
	// key never leaves the gateway).
	CSR string `json:"csr,omitempty"`
}

// EnrolResponse is ingest's answer to an accepted enrolment.
type EnrolResponse struct {
	// Gateway is the enrolled gateway's ID, Username its uplink user.
	Gateway  string `json:"gateway"`
	Username string `json:"username"`
	// Password is the uplink password (new at every enrolment; the
	// previous one stops working at once).
	Password string `json:"password"`
	// Certificate is the signed client certificate (PEM) when the request
	// had a CSR and ingest has a CA; CA is that CA's certificate (PEM).
	Certificate string `json:"certificate,omitempty"`
	CA          string `json:"ca,omitempty"`
	// Devices is how many devices the inventory now holds for it.
	Devices int `json:"devices"`
	// Rotated says the gateway was enrolled before: its credentials were
	// replaced.
	Rotated bool `json:"rotated"`
}
