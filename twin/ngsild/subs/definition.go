package subs

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/ponte-city/ponte/twin/ngsild"
)

// Definition is a subscription as its owner wrote it: the members of the
// Subscription data type (ETSI GS CIM 009 clause 5.2.12) Ponte
// implements. Status members are not part of it (see view.go).
type Definition struct {
	ID                string           `json:"id"`
	Type              string           `json:"type"`
	Name              string           `json:"subscriptionName,omitempty"`
	Description       string           `json:"description,omitempty"`
	Entities          []EntitySelector `json:"entities,omitempty"`
	WatchedAttributes []string         `json:"watchedAttributes,omitempty"`
	Q                 string           `json:"q,omitempty"`
	GeoQ              *GeoQ            `json:"geoQ,omitempty"`
	IsActive          *bool            `json:"isActive,omitempty"`
	Notification      Notification     `json:"notification"`
	ExpiresAt         string           `json:"expiresAt,omitempty"`
	Throttling        float64          `json:"throttling,omitempty"`
}

// EntitySelector is one item of entities (clause 5.2.33).
type EntitySelector struct {
	ID        string `json:"id,omitempty"`
	IDPattern string `json:"idPattern,omitempty"`
	Type      string `json:"type"`
}

// GeoQ is a subscription's geoQ (clause 5.2.13). Coordinates is kept as
// written: a JSON array, or a string holding one.
type GeoQ struct {
	Geometry    string          `json:"geometry"`
	Coordinates json.RawMessage `json:"coordinates"`
	Georel      string          `json:"georel"`
	Geoproperty string          `json:"geoproperty,omitempty"`
}

// Notification is a subscription's notification parameters (clause
// 5.2.14) as written; the status members are added by GET.
type Notification struct {
	Attributes []string `json:"attributes,omitempty"`
	Format     string   `json:"format,omitempty"`
	Endpoint   Endpoint `json:"endpoint"`
}

// Endpoint is where notifications go (clause 5.2.15).
type Endpoint struct {
	URI    string `json:"uri"`
	Accept string `json:"accept,omitempty"`
}

// Media types of endpoint.accept.
const (
	mediaJSON   = "application/json"
	mediaJSONLD = "application/ld+json"
)

// members of each object: known ones are decoded; spec members Ponte does
// not implement and read-only ones are refused by name with why.
var (
	topMembers = map[string]string{"id": "", "type": "", "subscriptionName": "", "description": "",
		"entities": "", "watchedAttributes": "", "q": "", "geoQ": "", "isActive": "", "notification": "",
		"expiresAt": "", "throttling": "", "@context": "",
		"timeInterval":        "periodic notifications are not supported",
		"notificationTrigger": "notification triggers are not supported (every change of a watched attribute notifies)",
		"temporalQ":           "temporal queries in subscriptions are not supported",
		"scopeQ":              "scope queries are not supported",
		"csf":                 "context source filters are not supported",
		"lang":                "language filters are not supported",
		"datasetId":           "datasetId is not supported",
		"jsonldContext":       "jsonldContext is not supported (Ponte's own @context is used)",
		"status":              "status is read-only", "createdAt": "createdAt is read-only", "modifiedAt": "modifiedAt is read-only"}
	notificationMembers = map[string]string{"attributes": "", "format": "", "endpoint": "",
		"sysAttrs":    "sysAttrs is not supported (the twin keeps no createdAt/modifiedAt)",
		"showChanges": "showChanges is not supported", "join": "join is not supported",
		"joinLevel": "joinLevel is not supported", "pick": "pick is not supported", "omit": "omit is not supported",
		"status": "status is read-only", "timesSent": "timesSent is read-only", "timesFailed": "timesFailed is read-only",
		"lastNotification": "lastNotification is read-only", "lastSuccess": "lastSuccess is read-only",
		"lastFailure": "lastFailure is read-only", "consecutiveErrors": "consecutiveErrors is read-only",
		"lastErrorReason": "lastErrorReason is read-only"}
	endpointMembers = map[string]string{"uri": "", "accept": "",
		"receiverInfo": "receiverInfo is not supported", "notifierInfo": "notifierInfo is not supported",
		"timeout": "timeout is not supported (the server's delivery timeout applies)", "cooldown": "cooldown is not supported"}
	selectorMembers = map[string]string{"id": "", "idPattern": "", "type": ""}
	geoQMembers     = map[string]string{"geometry": "", "coordinates": "", "georel": "", "geoproperty": ""}
)

// problem is a 400 BadRequestData naming field.
func problem(field, format string, args ...any) *ngsild.Problem {
	return &ngsild.Problem{Type: ngsild.ErrBadRequestData, Title: "Bad request data", Status: 400, Param: field,
		Detail: field + ": " + fmt.Sprintf(format, args...)}
}

// checkMembers refuses members of the object raw (at path) that table
// does not know or marks as unsupported. Unknown members are refused,
// not ignored, so that a client relying on one learns it has no effect.
func checkMembers(raw json.RawMessage, path string, table map[string]string) error {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return problem(strings.TrimSuffix(path, "."), "a JSON object is expected: %v", jsonError(err))
	}
	names := make([]string, 0, len(obj))
	for k := range obj {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		why, known := table[k]
		switch {
		case !known:
			return problem(path+k, "unknown member of a Subscription")
		case why != "":
			return problem(path+k, "%s", why)
		}
	}
	return nil
}

// jsonError shortens a JSON error for a detail.
func jsonError(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("invalid JSON at offset %d", se.Offset)
	case errors.As(err, &te):
		return fmt.Sprintf("found a JSON %s where a %s is expected", te.Value, te.Type)
	}
	return err.Error()
}

// decodeDefinition decodes and checks a Subscription body (POST, or the
// merge of a PATCH). Errors are *ngsild.Problem naming the member. now
// refuses an expiresAt in the past; allowed says where endpoint.uri may
// point.
func decodeDefinition(body []byte, now time.Time, allowed func(*url.URL) bool) (*Definition, *compiled, error) {
	body = bytes.TrimSpace(body)
	if err := checkMembers(body, "", topMembers); err != nil {
		return nil, nil, err
	}
	var obj map[string]json.RawMessage
	_ = json.Unmarshal(body, &obj) // checked above
	if raw, ok := obj["notification"]; ok {
		if err := checkMembers(raw, "notification.", notificationMembers); err != nil {
			return nil, nil, err
		}
		var n map[string]json.RawMessage
		_ = json.Unmarshal(raw, &n)
		if ep, ok := n["endpoint"]; ok {
			if err := checkMembers(ep, "notification.endpoint.", endpointMembers); err != nil {
				return nil, nil, err
			}
		}
	}
	if raw, ok := obj["geoQ"]; ok {
		if err := checkMembers(raw, "geoQ.", geoQMembers); err != nil {
			return nil, nil, err
		}
	}
	if raw, ok := obj["entities"]; ok {
		var items []json.RawMessage
		if err := json.Unmarshal(raw, &items); err != nil {
			return nil, nil, problem("entities", "an array of entity selectors is expected: %v", jsonError(err))
		}
		for i, it := range items {
			if err := checkMembers(it, fmt.Sprintf("entities[%d].", i), selectorMembers); err != nil {
				return nil, nil, err
			}
		}
	}
	var d Definition
	if err := json.Unmarshal(body, &d); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return nil, nil, problem(te.Field, "found a JSON %s where a %s is expected", te.Value, te.Type)
		}
		return nil, nil, problem("body", "%s", jsonError(err))
	}
	c, err := d.compile(now, allowed)
	if err != nil {
		return nil, nil, err
	}
	return &d, c, nil
}

// compiled is what matching and delivery need of a Definition.
type compiled struct {
	q        ngsild.QExpr
	geo      *ngsild.GeoQuery
	patterns []*regexp.Regexp // per entities item; nil where it has none
	form     ngsild.Form
	ldjson   bool
	expires  time.Time // zero: never
	throttle time.Duration
}

// Bounds of free-text and list members.
const (
	maxText  = 1024
	maxNames = 100
	maxIDLen = 256
)

// compile checks d and prepares it for matching.
func (d *Definition) compile(now time.Time, allowed func(*url.URL) bool) (*compiled, error) {
	c := &compiled{}
	// An empty list means what an absent one does (len checks): keep one
	// form of it, so that the subscriptions file's round trip is exact
	// (found by FuzzPatchDefinition: {"entities":[]}).
	if len(d.Entities) == 0 {
		d.Entities = nil
	}
	if len(d.Notification.Attributes) == 0 {
		d.Notification.Attributes = nil
	}
	if d.Type != "Subscription" {
		return nil, problem("type", `must be "Subscription", found %q`, d.Type)
	}
	if d.ID != "" {
		if u, err := url.Parse(d.ID); err != nil || !u.IsAbs() || len(d.ID) > maxIDLen {
			return nil, problem("id", "must be an absolute URI of at most %d characters, found %q", maxIDLen, d.ID)
		}
	}
	if len(d.Name) > maxText || len(d.Description) > maxText {
		return nil, problem("description", "subscriptionName and description are at most %d bytes", maxText)
	}
	if d.WatchedAttributes != nil && len(d.WatchedAttributes) == 0 {
		return nil, problem("watchedAttributes", "an empty list watches nothing; leave the member out to watch every attribute")
	}
	if len(d.Entities) == 0 && len(d.WatchedAttributes) == 0 {
		return nil, problem("entities", "entities or watchedAttributes is required (clause 5.2.12: at least one of them shall be present)")
	}
	if len(d.Entities) > maxNames {
		return nil, problem("entities", "at most %d selectors", maxNames)
	}
	for i, s := range d.Entities {
		field := fmt.Sprintf("entities[%d]", i)
		if err := checkName(field+".type", s.Type); err != nil {
			return nil, err
		}
		if s.ID != "" && s.IDPattern != "" {
			return nil, problem(field, "id and idPattern exclude each other")
		}
		var re *regexp.Regexp
		if s.IDPattern != "" {
			var err error
			if len(s.IDPattern) > maxIDLen {
				return nil, problem(field+".idPattern", "longer than %d characters", maxIDLen)
			}
			if _, err = regexp.Compile(s.IDPattern); err != nil {
				return nil, problem(field+".idPattern", "not a regular expression: %v", err)
			}
			// Anchored as GET /entities anchors it (twin/api): the whole ID
			// must match. Compiled alone first, so its parentheses balance
			// and "a)|(b" cannot escape the group.
			if re, err = regexp.Compile("^(?:" + s.IDPattern + ")$"); err != nil {
				return nil, problem(field+".idPattern", "not a regular expression once anchored: %v", err)
			}
		}
		c.patterns = append(c.patterns, re)
	}
	if err := checkNames("watchedAttributes", d.WatchedAttributes); err != nil {
		return nil, err
	}
	if d.Q != "" {
		var err error
		if c.q, err = ngsild.ParseQ(d.Q); err != nil {
			return nil, err
		}
	}
	if d.GeoQ != nil {
		if err := c.compileGeo(d.GeoQ); err != nil {
			return nil, err
		}
	}
	if err := c.compileNotification(&d.Notification, allowed); err != nil {
		return nil, err
	}
	if d.ExpiresAt != "" {
		t, err := time.Parse(time.RFC3339Nano, d.ExpiresAt)
		if err != nil {
			return nil, problem("expiresAt", "a DateTime (ISO 8601, e.g. 2030-01-01T00:00:00Z) is expected, found %q", d.ExpiresAt)
		}
		if !t.After(now) {
			return nil, problem("expiresAt", "%s is not in the future", d.ExpiresAt)
		}
		c.expires = t
	}
	if d.Throttling < 0 || math.IsNaN(d.Throttling) || d.Throttling > 86400*365 {
		return nil, problem("throttling", "a number of seconds >= 0 (at most a year) is expected, found %v", d.Throttling)
	}
	c.throttle = time.Duration(d.Throttling * float64(time.Second))
	return c, nil
}

func (c *compiled) compileGeo(g *GeoQ) error {
	coords := string(g.Coordinates)
	var s string
	if json.Unmarshal(g.Coordinates, &s) == nil {
		coords = s // a string holding the array, as in the GET parameter
	}
	if g.Geoproperty != "" && g.Geoproperty != "location" {
		return problem("geoQ.geoproperty", "only location is supported, not %q", g.Geoproperty)
	}
	geo, err := ngsild.ParseGeoQuery(g.Georel, g.Geometry, coords)
	if err != nil {
		var p *ngsild.Problem
		if errors.As(err, &p) {
			q := *p
			q.Param, q.Detail = "geoQ."+p.Param, "geoQ."+p.Detail
			return &q
		}
		return err
	}
	if geo == nil {
		return problem("geoQ", "georel, geometry and coordinates are required")
	}
	c.geo = geo
	return nil
}

func (c *compiled) compileNotification(n *Notification, allowed func(*url.URL) bool) error {
	if err := checkNames("notification.attributes", n.Attributes); err != nil {
		return err
	}
	switch n.Format {
	case "", "normalized":
		c.form = ngsild.Normalized
	case "keyValues":
		c.form = ngsild.KeyValues
	default:
		return problem("notification.format", `"normalized" or "keyValues" is expected, found %q`, n.Format)
	}
	switch n.Endpoint.Accept {
	case "", mediaJSON:
	case mediaJSONLD:
		c.ldjson = true
	default:
		return problem("notification.endpoint.accept", "%q or %q is expected, found %q", mediaJSON, mediaJSONLD, n.Endpoint.Accept)
	}
	u, err := url.Parse(n.Endpoint.URI)
	switch {
	case n.Endpoint.URI == "":
		return problem("notification.endpoint.uri", "required")
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return problem("notification.endpoint.uri", "an absolute http or https URL is expected, found %q", n.Endpoint.URI)
	case u.User != nil:
		return problem("notification.endpoint.uri", "user information in the URL is not accepted")
	case checkPath(u) != nil:
		return problem("notification.endpoint.uri", "%v, found %s", checkPath(u), u.Redacted())
	case !allowed(u):
		return problem("notification.endpoint.uri", "%s is not among the endpoints this server may notify (its AllowedEndpoints)", u.Redacted())
	}
	return nil
}

// checkName checks one attribute or type name: letters, digits, _.
func checkName(field, name string) error {
	if name == "" {
		return problem(field, "required")
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return problem(field, "%q has a character that is not a letter, digit or _ at position %d", name, i+1)
		}
	}
	return nil
}

func checkNames(field string, names []string) error {
	if len(names) > maxNames {
		return problem(field, "at most %d names", maxNames)
	}
	for i, n := range names {
		if err := checkName(fmt.Sprintf("%s[%d]", field, i), n); err != nil {
			return err
		}
		if slices.Contains(names[:i], n) {
			return problem(fmt.Sprintf("%s[%d]", field, i), "%q is listed twice", n)
		}
	}
	return nil
}
