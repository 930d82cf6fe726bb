// Package transport is the edge's one table of transports: for each
// profile kind (internal/profile), the address schemes its devices take,
// the hint shown when an address does not fit, its source package's
// checks and constructor (edge/source/modbus, serial, mqtt, rsmp), and what
// ponte-ctl probe does once for a device of that kind.
//
// The agent (site config checks, building its sources) and ponte-ctl
// (probe, profile validate) look a kind up here instead of each switching
// over the kinds; a new kind is one entry here. An unknown kind is one
// error, from For.
//
// Schemes: modbus takes tcp:// and rtu://, serial takes serial://, mqtt
// takes a broker URL (tcp://, mqtt://, ssl://, tls://, mqtts://, ws://,
// wss://), rsmp takes rsmp://host:port?site=ID. tcp:// is the one scheme two kinds share (Modbus TCP and a
// plain MQTT broker); the profile's kind decides. A serial port carries
// one serial device, or any number of Modbus RTU units: Port.Shared says
// which.
//
// The simulator (edge/sim) is the devices' side of the transports and
// does not use this table: it serves a profile over the transports its
// flags name, and links no source package.
package transport
