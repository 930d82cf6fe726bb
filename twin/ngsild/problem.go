package ngsild

import "fmt"

// NGSI-LD error types (ETSI GS CIM 009, clause 5.5.2).
const (
	// ErrBadRequestData: the request's data does not meet the operation's
	// requirements (a bad parameter value).
	ErrBadRequestData = "https://uri.etsi.org/ngsi-ld/errors/BadRequestData"
	// ErrInvalidRequest: the request is invalid as a whole (parameters
	// that need one another, or that exclude one another).
	ErrInvalidRequest = "https://uri.etsi.org/ngsi-ld/errors/InvalidRequest"
)

// Problem is an NGSI-LD error as RFC 7807 ProblemDetails. It is an error,
// so parsers return it; a handler writes it as application/json (or
// application/problem+json) with Status.
type Problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	// Param is the query parameter at fault (not sent).
	Param string `json:"-"`
}

// Error returns the title and the detail (which names the parameter).
func (p *Problem) Error() string {
	return fmt.Sprintf("%s: %s", p.Title, p.Detail)
}

// badData is a BadRequestData problem about parameter param.
func badData(param, format string, args ...any) *Problem {
	return &Problem{Type: ErrBadRequestData, Title: "Bad request data", Status: 400, Param: param,
		Detail: param + ": " + fmt.Sprintf(format, args...)}
}

// invalid is an InvalidRequest problem about parameter param.
func invalid(param, format string, args ...any) *Problem {
	return &Problem{Type: ErrInvalidRequest, Title: "Invalid request", Status: 400, Param: param,
		Detail: param + ": " + fmt.Sprintf(format, args...)}
}
