// Package alarms raises, keeps and clears the twin's alarms: thresholds on
// the measured quantities of sites (pm10 of air-quality stations, LAeq of
// sound level meters) and on the indicators of areas and the city, with
// the EU air-quality limit values and a noise limit as shipped rules
// (defaults.go, with their sources).
//
// # Rules
//
// A rule watches a point of the sites of a category (the twin's attribute
// of that name: the profile's point name for air pollutants and noise), or
// an indicator for every area and the city. It compares a value with a
// threshold (above or below): the latest value, or the mean of the
// readings of a rolling window (arithmetic, or energy for dB levels), kept
// in memory as 60 buckets per (rule, site). A raised alarm clears only once
// the value is back past the threshold by the hysteresis. The minimum
// duration applies both ways: raised only after the condition held that
// long, cleared only after the value stayed back that long. A value that
// is missing or not fresh (a stale or offline site, an area without
// sensors) moves nothing and restarts the minimum duration: the fleet
// panel says the data is stale; an alarm does not pretend to know.
//
// Ingest's YAML (twin.alarms) overrides fields of shipped rules by ID,
// turns them off (enabled: false) and adds rules; Rules checks them with
// the field's path for the file's line.
//
// # Lifecycle
//
// As in ISA-18.2 (ANSI/ISA-18.2-2016, alarm states):
//
//	raised        condition holds, not acknowledged   (active, unacknowledged)
//	acknowledged  condition holds, acknowledged       (active, acknowledged)
//	cleared       condition cleared, not acknowledged (returned to normal, unacknowledged)
//	closed        cleared and acknowledged            (history only)
//
// An operator acknowledges with POST /api/v1/alarms/{id}/ack and a name
// (operator tokens are shared, so the name is what the request says; the
// request's address is recorded with it, and the time). An acknowledged
// alarm that clears is closed; a raised one that clears stays open as
// cleared until someone acknowledges it, so an exceedance in the night is
// still seen in the morning. A cleared alarm whose condition returns is
// raised again (the same alarm, Raises counts). There is at most one open
// alarm per rule and entity. An entity that leaves the twin clears its
// alarms ("entity removed"); an alarm whose rule left the config clears at
// start ("rule removed").
//
// # Persistence
//
// Config.StateFile (ingest: alarms.json in its state dir) holds the open
// alarms and the most recent closed ones, as versioned JSON replaced
// atomically (internal/atomicfile) after each change of state and every
// 30 s while values move; a file that cannot be read is moved aside and
// logged, and ingest starts without it. Rolling windows and pending
// minimum durations are not kept: after a restart they start again from
// the readings that arrive. Open alarms are capped (MaxOpen, 1000: at the
// cap the oldest cleared-unacknowledged one is dropped, else the raise is
// refused and counted), closed ones too (MaxClosed, 500, oldest dropped).
//
// On a cluster (Config.Shared; ingest/replica stores them in a replicated
// key-value bucket), the alarms are not in a file: one instance leads and
// evaluates, writing each changed alarm to the shared store before it
// answers an acknowledgement; the others follow the store (Mirror) and
// forward acknowledgements to the leader (ErrUnavailable, HTTP 503 with
// Retry-After, while none leads). The driver moves the lead with Lead and
// Follow; a new leader starts from the stored alarms, its windows and
// minimum durations from the readings that arrive.
//
// # Evaluation
//
// Run subscribes to the twin's changes of sites like an SSE client (a
// slow engine is dropped by the twin and subscribes again, re-reading
// every site; the twin never waits), and ticks every Config.Tick (1 s) to
// slide windows, let minimum durations pass and read the indicators.
//
// # API
//
// Handler serves, behind the twin API's operator check:
//
//	GET  /api/v1/alarms            List: ?state= (raised, acknowledged, cleared, closed, open, all; comma-separated; default open), ?since= (RFC 3339: updated since), ?entity=
//	GET  /api/v1/alarms/{id}       an Alarm
//	POST /api/v1/alarms/{id}/ack   AckRequest -> the Alarm (404 unknown, 409 already acknowledged)
//	GET  /api/v1/alarms/stream     SSE: "event: alarms" (a List of the open ones) first, then "event: alarm" (an Event) per change
//
// Metrics: ponte_twin_alarms_open{severity,state}, ponte_twin_alarms_raised_total{severity},
// ponte_twin_alarms_refused_total, ponte_twin_alarm_streams_dropped_total,
// ponte_twin_alarms_state_write_errors_total, ponte_twin_alarms_leader.
package alarms
