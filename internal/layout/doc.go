// Package layout holds no code: its test enforces Ponte's import rules,
// so the arrows between the top-level folders point one way.
//
//	cmd      -> edge, ingest (and everything below)
//	ingest   -> twin -> geo
//	edge, ingest, twin, geo, internal -> wire and internal
//	e2e      -> anything but cmd
//
// wire is a leaf (it imports nothing of Ponte); internal imports only wire
// and internal; twin imports no edge package; edge imports nothing of
// ingest or twin; nothing imports cmd. The ingest binary links neither
// the Modbus nor the serial libraries.
package layout
