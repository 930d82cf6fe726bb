package main

import (
	"bytes"

	"go.yaml.in/yaml/v3"

	"github.com/ponte-city/ponte/internal/site"
)

// MarshalSite writes s as a site config: the site package's own YAML
// field names (its struct tags, so a renamed field cannot drift), with
// the fields left at their zero value dropped so that site.Load applies
// its defaults to them as to a hand-written file.
func MarshalSite(s *site.Site) ([]byte, error) {
	var n yaml.Node
	if err := n.Encode(s); err != nil {
		return nil, err
	}
	prune(&n)
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(&n); err != nil {
		return nil, err
	}
	return b.Bytes(), enc.Close()
}

// prune removes the mapping entries whose value is empty: null, "", 0,
// "0s", false, or a mapping or sequence left empty once pruned.
func prune(n *yaml.Node) bool {
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			prune(c)
		}
		return false
	case yaml.MappingNode:
		var kept []*yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if !prune(n.Content[i+1]) {
				kept = append(kept, n.Content[i], n.Content[i+1])
			}
		}
		n.Content = kept
		return len(kept) == 0
	case yaml.SequenceNode:
		for _, c := range n.Content {
			prune(c)
		}
		return len(n.Content) == 0
	case yaml.ScalarNode:
		switch n.Value {
		case "", "0", "0s", "false", "null":
			return n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) == 0 || n.Value == ""
		}
	}
	return false
}
