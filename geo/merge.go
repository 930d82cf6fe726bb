package geo

import (
	"fmt"
)

// Merge joins layers of one kind into a new layer named name, for example
// the municipality files of several metropolitan areas into one areas
// layer. Features keep their order, layer by layer; the inputs are not
// modified and share their features' geometry with the result. IDs must
// stay unique across the inputs. The result's CRS is the inputs' when they
// share one, else the zero CRS.
func Merge(name string, layers ...*Layer) (*Layer, error) {
	if len(layers) == 0 {
		return nil, fmt.Errorf("merge layers into %s: %w: no layers given", name, ErrKind)
	}
	out := &Layer{Name: name, Kind: layers[0].Kind, CRS: layers[0].CRS}
	seen := map[string]string{} // ID -> layer name
	for _, l := range layers {
		if l == nil {
			return nil, fmt.Errorf("merge layers into %s: %w: a layer is nil", name, ErrKind)
		}
		if l.Kind != out.Kind {
			return nil, fmt.Errorf("merge layers into %s: %w: %s holds %s, %s holds %s", name, ErrKind, layers[0].Name, out.Kind, l.Name, l.Kind)
		}
		if l.CRS.Code != out.CRS.Code {
			out.CRS = CRS{} // files of several CRSs: no one source CRS
		}
		for i, f := range l.Features {
			if prev, dup := seen[f.ID]; dup {
				return nil, fmt.Errorf("merge layers into %s: %w: %s features[%d] has id %s, already used in %s", name, ErrID, l.Name, i, f.ID, prev)
			}
			seen[f.ID] = l.Name
			if len(out.Features) == 0 {
				out.Bound = f.Bound
			} else {
				out.Bound = out.Bound.Union(f.Bound)
			}
			out.Features = append(out.Features, f)
		}
	}
	return out, nil
}
