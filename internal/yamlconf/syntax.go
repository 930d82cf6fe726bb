package yamlconf

import (
	"fmt"
	"strings"
)

// The YAML library reports a parser error at the line of its context (the
// line before, or the parent key) rather than the offending line, so
// syntax errors are located again here: indentError scans the lines for
// the first tab in an indentation or the first indentation that fits no
// open block, and names the field path it would have belonged to. It is a
// line-based reading of block YAML, used only after the library refused
// the file; when it finds nothing, the library's own line is kept.

// level is one open block: lines at indent are its entries.
type level struct {
	indent int
	parent string // path of the block
	last   string // path of its latest entry
	seq    bool   // entries are "- " items
	items  int    // items seen, for seq
	known  bool   // seq is decided (first entry seen)
}

// indentError returns the first indentation problem of data, or nil.
func indentError(name string, data []byte) *FieldError {
	lines := strings.Split(string(data), "\n")
	stack := []level{{indent: 0}}
	opens, openPath := false, ""
	scalar := -1 // indentation of the key owning a block scalar (| or >)
	for i, raw := range lines {
		ln := i + 1
		line := strings.TrimRight(raw, " \r")
		body := strings.TrimLeft(line, " \t")
		ind := len(line) - len(body)
		if scalar >= 0 {
			if body == "" || (ind > scalar && !strings.Contains(line[:ind], "\t")) {
				continue
			}
			scalar = -1
		}
		if body == "" || body[0] == '#' || body == "---" {
			continue
		}
		top := &stack[len(stack)-1]
		if strings.Contains(line[:ind], "\t") {
			where := top.parent
			if opens {
				where = openPath
			}
			return &FieldError{File: name, Line: ln, Path: where,
				Msg: "YAML syntax: tab character in the indentation (expected spaces: YAML indents with spaces only)"}
		}
		item := body == "-" || strings.HasPrefix(body, "- ")
		switch {
		case ind > top.indent:
			if _, _, key := splitKey(body); !opens && !item && !key {
				continue // a plain or quoted scalar running on over lines
			}
			if !opens {
				return &FieldError{File: name, Line: ln, Path: top.last, Msg: fmt.Sprintf(
					"YAML syntax: indented %d spaces under %s, which has a value on its line (expected %d spaces, in line with it, or its value moved to indented lines)",
					ind, describe(top.last), top.indent)}
			}
			stack = append(stack, level{indent: ind, parent: openPath})
		case ind < top.indent:
			var inner level
			for len(stack) > 1 && stack[len(stack)-1].indent > ind {
				inner = stack[len(stack)-1]
				stack = stack[:len(stack)-1]
			}
			if outer := stack[len(stack)-1]; outer.indent != ind {
				// Between two blocks: most likely meant as one more entry
				// of the inner one.
				path := inner.parent
				if key, _, ok := splitKey(body); ok {
					path = join(path, key)
				}
				return &FieldError{File: name, Line: ln, Path: path, Msg: fmt.Sprintf(
					"YAML syntax: indented %d spaces, between the blocks of %s (%d spaces) and %s (%d spaces) (expected %d or %d spaces)",
					ind, describe(inner.parent), inner.indent, describe(outer.parent), outer.indent, inner.indent, outer.indent)}
			}
		case opens && item && !top.seq:
			// A list may sit at its key's own indentation.
			stack = append(stack, level{indent: ind, parent: openPath})
		}
		top = &stack[len(stack)-1]
		if !top.known {
			top.seq, top.known = item, true
		} else if top.seq != item {
			want := "a list item \"- ...\""
			if !item {
				return &FieldError{File: name, Line: ln, Path: top.parent, Msg: fmt.Sprintf(
					"YAML syntax: %q at the indentation of the list %s (expected %s, or %s indented under an item)", body, describe(top.parent), want, "a key")}
			}
			return &FieldError{File: name, Line: ln, Path: top.last, Msg: fmt.Sprintf(
				"YAML syntax: list item among the keys of %s (expected a key, or the item indented under a key ending in \":\")", describe(top.parent))}
		}
		opens = false
		for item {
			path := fmt.Sprintf("%s[%d]", top.parent, top.items)
			top.items++
			top.last = path
			rest := strings.TrimPrefix(body, "-")
			next := strings.TrimLeft(rest, " ")
			if next == "" || next[0] == '#' {
				opens, openPath = true, path
				break
			}
			ind += 1 + len(rest) - len(next)
			stack = append(stack, level{indent: ind, parent: path})
			top = &stack[len(stack)-1]
			body = next
			item = body == "-" || strings.HasPrefix(body, "- ")
			top.seq, top.known = item, true
		}
		if opens {
			continue
		}
		if key, val, ok := splitKey(body); ok {
			path := join(top.parent, key)
			top.last = path
			switch {
			case val == "" || val[0] == '#':
				opens, openPath = true, path
			case val[0] == '|' || val[0] == '>':
				scalar = ind
			}
		}
	}
	return nil
}

// splitKey splits "key: value" (or "key:") of a block mapping line.
func splitKey(s string) (key, val string, ok bool) {
	if s == "" || strings.ContainsRune("[{\"'&*!|>%@`", rune(s[0])) {
		return "", "", false
	}
	if strings.HasSuffix(s, ":") && !strings.Contains(s, ": ") {
		return strings.TrimSpace(s[:len(s)-1]), "", true
	}
	k, v, found := strings.Cut(s, ": ")
	if !found || strings.Contains(k, " #") {
		return "", "", false
	}
	return strings.TrimSpace(k), strings.TrimSpace(v), true
}

func describe(path string) string {
	if path == "" {
		return "the top level"
	}
	return path
}
