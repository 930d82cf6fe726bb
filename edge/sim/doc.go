// Package sim simulates field devices from their profiles, so the edge
// agent, the tests and the demo run against the real wire formats without
// hardware: Modbus TCP and RTU servers, serial line devices and MQTT
// publishers (ponte-sim wires them to flags).
//
// # Modbus
//
// ModbusServer implements the server side of Modbus itself (goburrow/modbus
// is a client only, and the tests use it to check this framing
// independently): MBAP for TCP, and for RTU frames with a CRC16 whose
// length comes from the function code (1 to 6: 8 bytes; 15 and 16: 9 plus
// the byte count), so requests split across reads are assembled. A frame
// with a bad CRC loses one byte and the search starts again, which is how
// the line resynchronises after noise; a partial frame is discarded after
// 100 ms of silence, a generous stand-in for the standard's 3.5 character
// times because pseudo-terminals deliver in bursts.
//
// Each ModbusUnit keeps a sparse image of its four tables (100 simulated
// devices stay small). Reads are lenient inside the span of a table's
// points — unmapped registers between points read as 0, as most meters
// answer — and strict outside it (exception 2). Quantities of 0 or above
// the profile's max_registers / max_bits (default 125 / 2000) are
// exception 3, checked before the address as the specification orders. A
// profile with one_request_per_point gets exception 2 for a read touching
// several points. The profile's identify registers (modbus.identify) that
// no point covers hold their expected value and answer reads inside them
// only, so ponte-ctl scan finds the simulated model without the gap to a
// far identify register (a meter code at 0xFC02) becoming readable. Writes (FC 5, 6, 15, 16) to coils and
// holding registers of points with a write block are kept and pin the
// points they touch, so a client's write is not overwritten by the next
// Update; a write touching any other address is exception 2, as a real
// controller refuses it. Each accepted write is logged ("sim: write") and
// counted per point (ModbusUnit.Writes, "writes" in GET /status), so a
// test can assert that a command was written exactly once.
//
// Values are encoded independently of any client decoder: inverse scaling
// (raw = (v-Offset)/Scale, rounded and clamped for integer types), then the
// byte and word order (ABCD, CDAB, BADC, DCBA, and their 64-bit names) for
// values of two or four registers. 16-bit values and strings are sent as
// Modbus sends them, first character in the high byte. A bool or bitfield
// on a register changes only its own bits.
//
// Over TCP a request for a unit the server does not serve gets exception
// 0x0B, as a gateway answers for a silent unit behind it; a server with a
// single unit also answers unit 0 and 255. On an RTU line unknown units
// are silent and unit 0 is broadcast (writes apply to all, no answer).
//
// # Faults
//
// Faults are set per unit at run time. exception answers exception 4;
// timeout reads the request and never answers; garbage answers random
// bytes (RTU) or a reply with a wrong transaction and protocol ID (TCP);
// drop closes the TCP connection on the next request and is silence on a
// line; slow answers correctly but SlowDelay (1.5 s) late, past the Modbus
// source's default timeout. Every request counts in Requests, answered or not, so a test can
// tell a timeout from a request that never arrived.
//
// # Values
//
// Generator computes each value from the seed, the point name and the
// instant only — no state, no call-order dependence — so two runs with the
// same --seed give the same series, and a unit's values depend on its seed
// (ponte-sim gives each unit seed+unit). Patterns follow a city's day:
// traffic with a sharp morning rush at 8:00, a daytime plateau and a
// broader evening rush at 18:00 over a night low; parking filling from
// 7:00 to 9:00 and emptying in the evening; daily curves peaking at a given
// hour; counters growing steadily from a fixed origin (2024-01-01), so they
// are monotonic and fit a 32-bit register; smooth noise interpolated
// between one-minute knots; each point shifted by up to half an hour so a
// street's sensors do not move in lockstep. Points without a sim hint get a
// pattern from their unit, name and the device's category (PatternFor),
// narrowed to the point's range. Hours are taken in the location of the
// time asked for: ponte-sim's clock runs in --zone (default Europe/Rome,
// DefaultZone), so rush hours and full car parks fall at Italian hours
// whatever the machine's zone.
//
// # Serial line devices
//
// LineDevice builds each frame from its record's Example, the way Ponte's
// decoder reads it: the checksum is cut off with profile.Checksum.Verify,
// each field's text (the regex group's span, or the delimited column) is
// replaced by the simulated raw value (inverse scaling) formatted like the
// example's text — same decimals, same width, zero or space padding, an
// explicit + kept, no sign where the example has none, fixed-width
// counters wrapping as the device's own do — and the checksum is appended
// again with profile.Checksum.Append, then the framing. String fields keep
// the example's text; bools follow the example's spelling (1/0, Y/N,
// true/false, ON/OFF). garbage sends noise bytes (never framing bytes)
// before frames and flips a bit inside some; timeout is silence.
//
// # MQTT devices
//
// MQTTDevice builds the envelope its Format expects — a ChirpStack v4
// uplink event, a The Things Stack v3 uplink message, or plain JSON — with
// the decoded fields at Root + path, the device identity at the DeviceID
// path and the time at the Time path, on the profile's topic with its
// wildcards filled (LoRaWAN formats: the first + is the application, the
// second the device). Identifiers (application, deduplication, device
// address) derive from the seed and the model, so runs repeat. garbage
// publishes truncated JSON; timeout stops publishing. Bools are JSON
// booleans, or the manufacturer's codec's words for them ("on"/"off" for
// Milesight's decoders).
//
// A device whose profile has downlinks listens on its network server's
// downlink topics (ChirpStack v4 command/down, The Things Stack v3
// down/push and down/replace), subscribed on every connection. A
// downlink's frame is matched against the profile's payload templates
// (profile.Template.Decode) on its port; the point takes the value, and
// the device publishes an uplink at once, as a WS558 reports its switch
// state after a change, so an operator's command round-trips through the
// simulator. A frame no template matches is logged and changes nothing.
//
// # ponte-sim
//
// Options, ParseArgs and Run hold everything ponte-sim does; its main only
// wires them to the process. Each Modbus unit gets seed+unit so units on
// one line differ yet repeat run to run. The optional control API
// (Controller) listens on loopback only because it has no authentication;
// it sets faults and pins values at run time and reports requests per
// unit, which is how tests and demos drive the simulator from outside.
// --time-scale runs the simulated clock faster so a demo shows a whole day
// in minutes; MQTT messages still carry the real time (ingest refuses
// readings from the future). The simulator exports no Prometheus metrics: /status is its
// observable surface, and the gateway's own metrics are what is measured.
//
// --burn N serves nothing and runs N CPU-bound threads (Burn) until
// stopped: the fixed synthetic load that starves the machine's CPUs in
// edge/agent's BenchmarkAgentStarved (a run queue of about N), kept in a
// process of its own so the simulated devices are not part of it.
package sim
