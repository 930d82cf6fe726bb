package geo

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Sentinel errors a caller can branch on with errors.Is. A *LayerError
// unwraps to the sentinels of all the problems it lists.
var (
	// ErrSyntax means the file is not valid JSON.
	ErrSyntax = errors.New("invalid JSON")
	// ErrStructure means the JSON is not a GeoJSON FeatureCollection of
	// Features as a layer needs (wrong top-level type, no features, a
	// member of the wrong JSON type).
	ErrStructure = errors.New("not a GeoJSON layer")
	// ErrCRS means the layer names a coordinate reference system other
	// than WGS84 lon/lat.
	ErrCRS = errors.New("not WGS84")
	// ErrCoordinates means a position is malformed, not finite or outside
	// the lon/lat range.
	ErrCoordinates = errors.New("bad coordinates")
	// ErrGeometry means a geometry is missing, of a type the layer kind
	// does not allow, or malformed (unclosed or short ring, short line).
	ErrGeometry = errors.New("bad geometry")
	// ErrID means a feature has no usable ID or shares it with another.
	ErrID = errors.New("bad feature id")
	// ErrKind means an index was asked for a layer of another kind.
	ErrKind = errors.New("wrong layer kind")
)

// A Problem is one thing wrong with a layer file.
type Problem struct {
	// Line is the 1-based line of the feature (or of the syntax error);
	// 0 when unknown.
	Line int
	// Column is set for syntax errors only.
	Column int
	// Feature is the index in "features", or -1 for the layer itself.
	Feature int
	// ID and Name identify the feature when they could be read.
	ID, Name string
	// Msg says what is wrong and, where it helps, what to do.
	Msg string
	// Err is the sentinel for the class of problem.
	Err error
}

// format renders the problem as one line prefixed by the file name.
func (p Problem) format(file string) string {
	var b strings.Builder
	b.WriteString(file)
	if p.Line > 0 {
		b.WriteString(":" + strconv.Itoa(p.Line))
		if p.Column > 0 {
			b.WriteString(":" + strconv.Itoa(p.Column))
		}
	}
	b.WriteString(": ")
	if p.Feature >= 0 {
		fmt.Fprintf(&b, "features[%d]", p.Feature)
		switch {
		case p.ID != "" && p.Name != "":
			fmt.Fprintf(&b, " (id %s %q)", p.ID, p.Name)
		case p.ID != "":
			fmt.Fprintf(&b, " (id %s)", p.ID)
		case p.Name != "":
			fmt.Fprintf(&b, " (%q)", p.Name)
		}
		b.WriteString(": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// A LayerError lists the problems found in a layer file, one per line, so
// a technician can fix them in one pass instead of one run per mistake.
type LayerError struct {
	// File is the name the layer was loaded or parsed under.
	File string
	// Problems holds at most LoadOptions.MaxErrors problems, in file order.
	Problems []Problem
	// More counts the problems found beyond those listed.
	More int
}

// Error renders every problem on its own line.
func (e *LayerError) Error() string {
	lines := make([]string, 0, len(e.Problems)+1)
	for _, p := range e.Problems {
		lines = append(lines, p.format(e.File))
	}
	if e.More > 0 {
		lines = append(lines, fmt.Sprintf("%s: ... and %d more problems", e.File, e.More))
	}
	return strings.Join(lines, "\n")
}

// Unwrap returns the distinct sentinels of the listed problems.
func (e *LayerError) Unwrap() []error {
	var out []error
	for _, p := range e.Problems {
		seen := false
		for _, o := range out {
			if o == p.Err {
				seen = true
				break
			}
		}
		if !seen && p.Err != nil {
			out = append(out, p.Err)
		}
	}
	return out
}

// problems collects Problems up to a limit and counts the rest.
type problems struct {
	max  int
	list []Problem
	more int
}

func (ps *problems) add(p Problem) {
	if len(ps.list) < ps.max {
		ps.list = append(ps.list, p)
		return
	}
	ps.more++
}

func (ps *problems) empty() bool { return len(ps.list) == 0 && ps.more == 0 }

func (ps *problems) err(file string) error {
	if ps.empty() {
		return nil
	}
	return &LayerError{File: file, Problems: ps.list, More: ps.more}
}
