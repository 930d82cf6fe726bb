package ngsild

import (
	"net/url"
	"strings"
)

// ParseRawQuery parses a request's raw query string (r.URL.RawQuery) as
// ParseQuery does. It exists because NGSI-LD puts ";" in values unescaped
// (georel=near;maxDistance==100, q=a>1;b<2), and Go's url.ParseQuery —
// hence r.URL.Query() — rejects or drops every parameter holding one.
// Only "&" separates parameters here.
func ParseRawQuery(raw string) (*Query, error) {
	v, err := SplitRawQuery(raw)
	if err != nil {
		return nil, err
	}
	return ParseQuery(v)
}

// SplitRawQuery splits a raw query on "&" only and unescapes names and
// values. A bad escape is a BadRequestData problem naming the parameter.
func SplitRawQuery(raw string) (url.Values, error) {
	v := url.Values{}
	for _, kv := range strings.Split(raw, "&") {
		if kv == "" {
			continue
		}
		k, val, _ := strings.Cut(kv, "=")
		name, err := url.QueryUnescape(k)
		if err != nil {
			return nil, badData(k, "bad percent-encoding in the parameter's name")
		}
		value, err := url.QueryUnescape(val)
		if err != nil {
			return nil, badData(name, "bad percent-encoding: %v", err)
		}
		v[name] = append(v[name], value)
	}
	return v, nil
}
