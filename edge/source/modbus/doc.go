// Package modbus polls Modbus TCP and RTU devices described by device
// profiles (internal/profile) and hands their values on as wire.Readings. It
// implements source.Source, and offers Probe for the technician CLI.
//
// The package is split by concern: codec.go turns the bytes of one point
// into a typed value (pure), plan.go turns a register map into read
// requests (pure), link.go and rtu.go carry requests over TCP or a serial
// line, poll.go reads one device once, bus.go schedules the devices of one
// line, source.go wires it together. Modbus TCP reads are framed here
// (mbap.go, tcp.go: MBAP header per the Modbus Messaging on TCP/IP
// Implementation Guide V1.0b, transaction, protocol and unit id checked,
// length bounded to the 260-byte ADU, one buffered read per reply into
// buffers the link reuses, so a poll allocates nothing for its transport);
// goburrow/modbus frames writes and RTU (slave address, CRC, PDU checks)
// and is the reference our TCP framing is tested against (tcp_test.go).
//
// # Values
//
// Registers travel big-endian; a profile's byte/word order (ABCD, CDAB,
// BADC, DCBA, and their 64-bit names) applies to 32- and 64-bit values
// only. Strings are two ASCII characters per register, high byte first,
// ending at the first NUL, trailing spaces trimmed. Integers stay integers
// unless the point has a scale or offset; then they become floats. A
// uint64 above the int64 range is a bad_decode reading, not a rounded
// float: in practice it is a vendor's "not available" marker. NaN and
// infinite floats are bad_decode too; a value outside the point's range is
// bad_range and keeps the value for diagnosis.
//
// # Coalescing
//
// Points of one poll class (fast or slow) are grouped by table and sorted
// by address. A point joins the current request when the gap from the
// request's end is at most Modbus.MaxGap registers (default 0: adjacent
// only, because many devices answer an exception for unmapped addresses)
// and the request then spans at most MaxRegisters (default and protocol
// maximum 125) or, for coils and discrete inputs, MaxBits (2000). A point
// never spans two requests; points overlapping one register (status bits,
// bit fields) share a request. OneRequestPerPoint turns coalescing off for
// devices that refuse reads spanning several points.
//
// # Buses
//
// Devices are grouped by transport: all devices on one rtu:// path share
// one line, and all devices on one tcp://host:port (a gateway with several
// unit IDs) share one connection. Each group is a bus, served by one
// goroutine that sends one request at a time, switching the unit ID per
// request; different buses run in parallel. A bus always runs the job
// (a device's fast or slow points) that is due first. Fast points are read
// every Device.Interval, slow ones every SlowInterval (default 10x). A
// slot the bus missed (its goroutine descheduled under CPU starvation, a
// slow reply ahead of it) is polled late, at once, with the time it really
// read, while the job is at most three intervals behind (lateSlots); a
// job further behind, or back from backoff, skips the missed slots
// instead of polling a device in a burst.
// Modbus.Pause is kept between any two requests to the same device.
//
// TCP connects on the first request and keeps the connection between polls.
// After a failed exchange the connection is closed, so a late reply cannot
// be taken for the next answer, and the next request reconnects; a reply
// whose transaction id is not the request's closes it too. A reply that
// had reached the socket by the time the reader noticed its deadline is
// taken, not counted a timeout (one non-blocking read after the deadline):
// under CPU starvation the agent runs after long pauses, and Go's runtime
// fires the deadline's timer before it looks at the socket. A reused
// connection that fails with anything but a timeout (the peer closed it
// while idle) is replaced and the read retried once at once. The RTU
// transporter reads exactly one frame, keeps the 3.5-character gap between
// frames, and drains the line after a failure for the same reason.
//
// Requests take no context on TCP (nor in goburrow's handlers): every
// request is bounded by the device's Timeout (default 1s), and cancelling Run's context stops a bus
// after at most the request in flight; the RTU transporter also checks
// the context after every read, at least every 100 ms.
//
// # RTU over tarm/serial
//
// The edge has one serial library, github.com/tarm/serial (the design
// card's choice; serial line devices use it too, through
// source.OpenSerial). goburrow/modbus brings its own RTU transporter on
// github.com/goburrow/serial; this package does not use it. It takes only
// goburrow's RTU packager (modbus.RTUClientHandler's Encode, Verify and
// Decode: slave address, CRC) and joins it with modbus.NewClient2 to a
// transporter of its own on a tarm/serial port, which does what goburrow's
// does (rtuclient.go) and what goburrow's cannot:
//   - the reply length comes from the request's function code (5 + byte
//     count for reads, 8 for the echo of a write; 5 for an exception,
//     recognised by the function code's high bit), and the reply is read
//     until that many bytes arrived, however the line splits the frame;
//   - frames are kept 3.5 character times apart (11 bits a character;
//     fixed at 1.75 ms above 19200 baud, Modbus over serial line v1.02
//     §2.5.1.1) by waiting out the gap since the last byte sent or read;
//   - the reply is bounded by the device's Timeout and the request's
//     context, checked between reads;
//   - after a failure the line is drained (read until 100 ms of silence,
//     at most 500 ms) so a late reply is not taken for the next slave's.
//
// tarm/serial offers what RTU needs: baud rate, data bits, parity (N, E,
// O) and stop bits (1, 2) are set in termios, and a read timeout (VMIN=0,
// VTIME) makes a read return as soon as bytes arrive, or (0, io.EOF) after
// the timeout, which the transporter takes as silence. Its one limit is
// the granularity: VTIME counts deciseconds, so the shortest read timeout
// is 100 ms, where goburrow/serial's select allowed 20 ms. A reply is not
// slowed by it (a read returns with the first bytes); a timeout, a
// cancellation or the end of a drain is noticed up to 100 ms later than
// its due time. goburrow/serial's one extra, RS-485 direction control by
// the kernel driver (TIOCSRS485), was never switched on here: most USB
// RS-485 adapters switch direction themselves. A UART that needs the kernel to
// drive RTS would need it set on the port (tarm/serial has no option).
//
// goburrow/serial is still in the module graph (go.mod lists it as
// indirect) and in the edge binaries, never called: the goburrow/modbus
// package itself imports it (serial.go, for the RTU transporter this
// package does not use). It goes only if goburrow/modbus goes.
//
// # Failures
//
// A timeout or connection error ends a device's poll at once: its points
// not read yet get the same bad_comm reading rather than one timeout each.
// A Modbus exception spoils only its request's points (bad_device, with
// the exception in the reason), and a reply of the wrong length only its
// request's points (bad_decode). A poll that failed as a whole (no reply,
// or nothing but exceptions) puts the device in backoff (internal/backoff,
// from Config.BackoffBase to BackoffMax): the bus skips it until its retry
// time, so a dead slave on a shared line costs one timeout per backoff
// period and never slows the others. Every failure is counted in
// source.Metrics by kind (timeout, comm, exception, decode); a device's
// state is logged once per change: Warn with the reason when it goes bad
// or fails differently, Info when it responds again. Each poll is logged
// at Debug.
//
// # Writes
//
// Source implements source.Writer for operators' commands (issue 16;
// edge/command decides whether a command may be written): FC 06 for a
// point of one register, FC 16 for several, FC 05 for a coil, the value
// encoded by profile.EncodeRegisters / EncodeCoil (the read decoding
// inverted). The write runs on the bus goroutine between two polls, so it
// never interleaves with a read on a shared RTU line or TCP connection;
// the point's settle time is waited outside the bus (the other devices
// keep their rate); the read-back point is then read on the bus and
// decoded as a poll decodes it. A write is sent once, never retried on a
// fresh connection: a failure may hide a write that reached the device,
// and the command reports failed rather than writing twice.
package modbus
