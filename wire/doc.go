// Package wire is the contract between Ponte's edge agents and ingest: the
// Reading every source produces, and (from the uplink issue on) the versioned
// batch that carries readings from a gateway's buffer to ingest.
//
// Both sides import this package and nothing else of each other, so it holds
// only plain types and their encoding: no I/O, no logging, no configuration.
//
// # Refused readings go back in the acknowledgement
//
// Readings ingest refuses one by one (a time outside its window, a device
// it does not know, a point InfluxDB rejects) are dead-lettered durably
// and acknowledged: the gateway frees them like the rest. So that the
// gateway is not left believing they arrived (its /status would show the
// device healthy while nothing of it reaches the city), ingest says so in
// the acknowledgement of the batch: Ack.Refused, per device, how many
// were refused and how many accepted, the reason and the last offending
// point, value and time. It is bounded (MaxRefusedDevices devices,
// MaxRefusedText per text).
//
// The choice was between that and a separate notice topic. A notice topic
// needs a new ACL line in every deployed Mosquitto and in the embedded
// broker, and a message that can arrive apart from (before or after) the
// acknowledgement it belongs to. The acknowledgement is already the one
// message per batch that ingest sends the gateway, on a topic only that
// gateway reads; putting the summary in it needs no broker change and ties
// the refusal to the sequence numbers it covers.
//
// The constraint is the gateways already deployed: DecodeAck before
// version 3 refuses unknown fields, so a gateway of today would refuse an
// acknowledgement carrying Refused and never free its buffer. A gateway
// therefore asks for it: its batches carry FlagAckRefused (batch version
// 3), and ingest adds Refused only to the acknowledgement of a batch that
// carried the flag. Batches of version 1 and 2 get plain acknowledgements,
// as before. Encode writes version 2 for a batch without flags, so only a
// gateway that asks needs an ingest that reads version 3; upgrade ingest
// first, as for version 2 (until then a version-3 batch is dead-lettered
// as "version", never acknowledged, and kept in the gateway's buffer).
//
// The summary is a courtesy, not the record: an acknowledgement lost with
// a connection is repaired by the next one's sequence number, but its
// summary is not repeated (a resend is a replay, refused readings and all
// already written in ingest's dedup state). The record is the dead letter
// and ingest's ponte_ingest_dead_letters_total{gateway,reason}.
package wire
