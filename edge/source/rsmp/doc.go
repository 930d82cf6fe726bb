// Package rsmp supervises road-side sites over RSMP (Road Side Message
// Protocol, RSMP Nordic): a traffic light controller's statuses become
// readings, and its commands (M0002, "set time plan") become writable
// points for operators' commands (issue 16).
//
// The package is an RSMP supervisor as RSMP core specification 3.2.2
// describes one (rsmp-nordic/rsmp_core, tag v3.2.2; sections cited
// below), for the signal exchange list a profile of kind rsmp names
// (internal/profile; SXL TLC 1.2.1 in firmware-profiles/rsmp-tlc-sxl-1.2.yaml).
//
// Transport ("Transport of data"): JSON over TCP, every message ended by
// a form feed (0x0C); consecutive form feeds, and one at the start, are
// skipped. Framer bounds a message (DefaultMaxMessage) and skips a longer
// one. Direction: RSMP 3.2.2 has the site connect to the supervisor's
// socket server. Ponte's edge sits in the cabinet beside the controller
// and dials it instead (rsmp://host:port?site=ID: the controller, or its
// protocol gateway, configured as the socket server); after the TCP
// connection the exchange is the spec's supervisor side unchanged, the
// site speaking first. The spec names no default port, so the address
// must give one. RSMP core 3.3.0, 4.3.1 "Multiple supervisors", asks a
// site that supports several supervisors to be configurable to initiate
// the connection or to be the socket server; a site that can only dial
// out needs the edge to listen, which is not built.
//
// Establishment ("Communication establishment between sites and
// supervision system"): the site's Version is checked (the site ID of
// the address among its siteId, the profile's SXL revision, an RSMP
// version both offer) and acknowledged, or refused with a MessageNotAck
// whose rea says why, and the connection closed ("Communication
// rejection"); then this side's Version, the site's Watchdog, this
// side's Watchdog, each acknowledged. The newest common RSMP version is
// used.
//
// Acknowledgement ("Message acknowledgement"): every message from the
// site is answered with a MessageAck (oMId = its mId), or a MessageNotAck
// with a reason when it cannot be understood (invalid JSON whose mId can
// still be found, an unknown type, a field of the wrong type, a request a
// supervisor does not serve); unknown fields are ignored; parsing is case
// sensitive. Every message sent waits for its ack; none within the
// timeout is a communication disruption: the connection is closed and
// reopened with backoff (internal/backoff). Watchdogs go both ways
// (default once a minute); AggregatedStatus, Alarm and StatusUpdate are
// acknowledged and otherwise ignored.
//
// Reading: every poll sends one StatusRequest per component with the
// profile's statuses (sCI, n) and turns the StatusResponse into readings.
// Only quality "recent" is a good reading; "old", "undefined" and
// "unknown" are bad_device readings naming the quality, a value missing
// from the response is bad_device, a value that does not parse as the
// point's type bad_decode, one outside its range bad_range. A
// disruption makes every point bad_comm. RSMP responses carry no
// reference to their request, so requests on one connection are
// serialised.
//
// Writing (Source.WritePoint, see write.go): a CommandRequest with the
// profile's arguments and the device's security code, which comes from
// the site config (a secret; never logged), then the read-back.
package rsmp
