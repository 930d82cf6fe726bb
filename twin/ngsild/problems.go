package ngsild

import "net/http"

// More NGSI-LD error types (ETSI GS CIM 009, clause 5.5.2), for the
// handlers of the read and temporal API.
const (
	// ErrResourceNotFound: the entity (or type) asked for does not exist,
	// or the caller may not see it.
	ErrResourceNotFound = "https://uri.etsi.org/ngsi-ld/errors/ResourceNotFound"
	// ErrNonexistentTenant: the NGSILD-Tenant header names a tenant that
	// does not exist (or that the caller may not see).
	ErrNonexistentTenant = "https://uri.etsi.org/ngsi-ld/errors/NonexistentTenant"
	// ErrOperationNotSupported: the server does not offer the operation
	// (the temporal API without a time-series store).
	ErrOperationNotSupported = "https://uri.etsi.org/ngsi-ld/errors/OperationNotSupported"
	// ErrInternalError: the server (or a store behind it) failed.
	ErrInternalError = "https://uri.etsi.org/ngsi-ld/errors/InternalError"
	// ErrLdContextNotAvailable: the @context a request names cannot be
	// used.
	ErrLdContextNotAvailable = "https://uri.etsi.org/ngsi-ld/errors/LdContextNotAvailable"
)

// NewProblem returns a Problem of type typ with HTTP status, about the
// parameter or header param ("" for none); detail is prefixed with param.
func NewProblem(status int, typ, param, detail string) *Problem {
	if param != "" {
		detail = param + ": " + detail
	}
	return &Problem{Type: typ, Title: http.StatusText(status), Status: status, Param: param, Detail: detail}
}
