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
}

// DecodeRecord is DecodeRecord (the package function) with the names
// taken from n.
func (n *Names) DecodeRecord(data []byte) (Reading, error) { return decodeRecord(data, n) }

// string reads a name from d, from n's table when n is not nil.
func (n *Names) string(d *decoder) string {
	if n == nil {
		return d.string()
	}
	b := d.stringBytes()
	if s, ok := n.m[string(b)]; ok { // the lookup does not allocate
		return s
	}
	if n.m == nil || len(n.m) >= maxNames {
		n.m = make(map[string]string)
	}
	s := string(b)
	n.m[s] = s
	return s
}
