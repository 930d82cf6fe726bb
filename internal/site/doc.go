// Package site is the gateways' site configs: the one device inventory of
// Ponte. A site config is one YAML file per gateway (examples in
// deploy/sites/) saying who the gateway is, where it sends, how it buffers
// and which devices it reads: each with its firmware profile, address,
// position, area and twin entity. The edge agent polls from it
// (edge/agent adds the checks that need its transports through
// Options.Check); ingest tags readings with a device's area and type (its
// profile's category) from it and treats the devices it lists as the
// gateway's known ones; the twin places the devices on its map from it.
// An Inventory is the site configs of every gateway read together; the
// enrolment registry keeps one site config per gateway and builds its
// Inventory from them.
//
// # Decoding and checks
//
// One YAML file per gateway (examples in deploy/sites/), decoded strictly
// by yamlconf: unknown fields and wrong types are errors with file, line
// and field path, and a validation pass then reports every semantic
// problem at once, each at its line. Decisions:
//
//   - profiles: the firmware profile directory; relative paths (this one,
//     buffer.dir, uplink.password_file, uplink.tls.*) are taken from the
//     config file's directory. Default DefaultProfilesDir, where packages
//     install the shipped profiles; ponte-edge --profiles overrides it.
//     Only the profiles the devices name are loaded, so one broken profile
//     of another model does not stop a gateway.
//   - Sizes (buffer.max_bytes, buffer.segment_bytes, uplink.batch_max_bytes)
//     are a plain number of bytes or a number with a unit: KiB, MiB, GiB,
//     TiB (powers of 1024) or kB, MB, GB, TB (powers of 1000). Durations
//     are Go duration strings ("500ms", "72h").
//   - A device's address (required, and fitting its profile's kind) is
//     the agent's check (edge/agent, edge/transport): central services
//     never dial it. unit is for Modbus only (1..247
//     on an RTU line), id for MQTT only (and required when the profile
//     carries a device identity).
//   - Modbus and request/response serial devices without an interval are
//     polled every DefaultInterval (10s).
//   - location {lon, lat} is required and range-checked: the twin places
//     every device on its map; |lat| > 90 or |lon| > 180 is an error, and
//     (0, 0) is refused as never filled in. Coordinates given the wrong way
//     round (Florence as lon 43.78, lat 11.26) are the commonest slip, and
//     the range check cannot see it: a point outside Italy's bounding box
//     whose swapped point lies inside it is an error, "latitude and
//     longitude look swapped". A point outside the box that is not a swap
//     is accepted (a gateway abroad). The box is Italy's extreme points
//     (Wikipedia, "List of extreme points of Italy"), a constant here: no
//     site config field and no geo data, so the check stays cheap on ARM
//     boxes and edge does not import twin or geo.
//   - The uplink username defaults to the gateway ID, the client ID to
//     "ponte-edge-" + gateway ID.
//   - The uplink password is given as password, password_file or
//     password_env (an environment variable), one of them; a shipped
//     example's placeholder or a password shorter than 16 characters is
//     refused, and a config or password file others may read is warned
//     about at start (secret.go, rules shared with ingest in
//     internal/secret).
//
// Errors are reported in file order, each as a *yamlconf.FieldError
// naming the file, line and field, joined with errors.Join.
package site
