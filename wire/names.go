package wire

// maxNames bounds a Names table; past it the table starts afresh.
const maxNames = 1 << 16

// Names decodes buffer records keeping one copy of each device, point and
// unit name: a gateway's records repeat a few thousand names, and a fresh
// string for each name of each record was four fifths of what the edge
// uplink allocated at 100k readings/s. The zero Names is ready to use; it
// is not safe for concurrent use, and holds at most 65,536 names (then
// starts afresh), so a stream of distinct names cannot grow it unbounded.
type Names struct {
	m map[string]string
	// last is the last device, point and unit name decoded: a poll's
	// records run with one device and mostly one unit, and comparing
	// with the last one is cheaper than a lookup.
	last [3]string
}

// DecodeRecord is DecodeRecord (the package function) with the names
// taken from n.
func (n *Names) DecodeRecord(data []byte) (Reading, error) { return decodeRecord(data, n) }

// string reads the name of field (0 device, 1 point, 2 unit) from d,
// from n's table when n is not nil.
func (n *Names) string(d *decoder, field int) string {
	if n == nil {
		return d.string()
	}
	b := d.stringBytes()
	if string(b) == n.last[field] { // the comparison does not allocate
		return n.last[field]
	}
	s, ok := n.m[string(b)] // nor does the lookup
	if !ok {
		if n.m == nil || len(n.m) >= maxNames {
			n.m = make(map[string]string)
		}
		s = string(b)
		n.m[s] = s
	}
	n.last[field] = s
	return s
}
