// Package serial reads text-line devices on RS-232/RS-485 ports — weather
// stations talking NMEA, traffic counters, air-quality stations — as their
// profile's serial section describes, through github.com/tarm/serial.
//
// # Pipeline
//
// Bytes from the port go through three pure stages, each tested on its own
// and fuzzed: the Framer (framer.go) cuts the stream into frames; the
// checksum (checksum.go) verifies a frame and cuts its suffix off; the line
// parser (parse.go, convert.go) picks the frame's record and turns its
// fields into typed, scaled, range-checked readings. Reading the port
// (port.go) is kept apart from all three, as node_exporter keeps reading
// apart from parsing.
//
// # Decisions
//
//   - tarm/serial returns io.EOF when a read times out with no data. On a
//     serial line that is "nothing yet", never the end of the stream: the
//     source keeps reading. The read timeout is 100 ms (the shortest
//     tarm/serial offers), which bounds how late cancellation and reply
//     deadlines are noticed. Any other read error closes the port; it is
//     reopened with backoff.
//   - Noise and garbage never cost a good frame: see Framer for the exact
//     rules (noise before Start skipped, overlong frames dropped without
//     buffering, a Start inside a frame restarts it, control bytes trimmed
//     from frame ends, a frame with control bytes inside dropped).
//   - Acquisition time is the time the read that completed the frame
//     returned.
//   - Record selection: the first record whose match expression matches; a
//     record without one is selected when its regex matches, a delimiter
//     record without one always. A frame no record selects is counted as
//     "unmatched" and ignored. A selected frame whose regex then fails, or
//     whose field text does not convert, yields bad_decode readings naming
//     the field and quoting the text, and is counted as "decode".
//   - Types: int is a wire int unless the field is scaled (then a float);
//     float rejects NaN and infinities; bool accepts 1/0, true/false,
//     on/off in any case. Field text is trimmed of spaces. A value outside
//     the field's range is a bad_range reading carrying the value.
//   - Request/response: each poll discards stale input, writes the command,
//     and takes the reply as complete when a valid frame has arrived and
//     the line then stays quiet for a read timeout (a reply may hold
//     several frames of one record, one per lane). No valid frame within the reply timeout (device
//     Timeout, else the profile's request timeout, else 1 s) is a
//     "timeout": counted, logged on change of state, and a bad_comm reading
//     for every known point.
//   - Free-running silence: a device that sends no valid frame for
//     SilenceIntervals (3) of its Interval (Interval 0: one minute) is
//     failing: logged, counted once as "comm", one bad_comm reading per
//     known point; its next valid frame ends the failure.
//   - A port that fails to open or to read is logged once per change of
//     state, counted as "comm", emits bad_comm readings and is retried with
//     exponential backoff (Config.BackoffBase to BackoffMax), reset once the
//     device has worked again.
//   - Known points (for bad_comm readings) come from the records' example
//     frames and from every point read since; names with {group}
//     placeholders are only known from frames.
//   - Writes (issue 16): the source implements source.Writer for the
//     profile's serial.requests (write.go). The device's goroutine keeps
//     owning the port: it takes a write between two reads or two polls,
//     writes the command line, asks for the setting, and takes the first
//     line matching the request's match expression within its timeout as
//     the read-back, while every byte read meanwhile still goes through
//     the decoder, so readings keep flowing. A port that is not open fails
//     the write at once.
//
// Error kinds counted in ponte_edge_device_errors_total: checksum, framing,
// unmatched, decode, timeout, comm.
package serial
