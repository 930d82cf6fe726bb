package alarms

import "time"

// State is where an alarm is in its life.
type State string

// Alarm states (ISA-18.2's, with their names there in brackets).
const (
	// Raised: the condition holds and no operator has acknowledged it
	// (active, unacknowledged).
	Raised State = "raised"
	// Acknowledged: the condition holds and an operator acknowledged it
	// (active, acknowledged).
	Acknowledged State = "acknowledged"
	// Cleared: the condition cleared before anyone acknowledged it; it
	// stays open until acknowledged (returned to normal, unacknowledged).
	Cleared State = "cleared"
	// Closed: cleared and acknowledged; kept in the recent history only.
	Closed State = "closed"
)

// states lists the states in their life's order.
var states = []State{Raised, Acknowledged, Cleared, Closed}

// open says whether an alarm in state s still needs an operator or its
// condition still holds.
func (s State) open() bool { return s == Raised || s == Acknowledged || s == Cleared }

// active says whether the alarm's condition holds.
func (s State) active() bool { return s == Raised || s == Acknowledged }

// Entity kinds an alarm can be about.
const (
	EntitySite = "site"
	EntityArea = "area"
	EntityCity = "city"
)

// CityID is the entity ID of the whole city, for indicator rules.
const CityID = "city"

// Ack records an operator's acknowledgement.
type Ack struct {
	// By is the operator's name as the acknowledging request gave it
	// (operator tokens are shared, not personal), Remote the address the
	// request came from.
	By     string    `json:"by"`
	Remote string    `json:"remote"`
	At     time.Time `json:"at"`
	Note   string    `json:"note,omitempty"`
}

// Alarm is one alarm: a rule's condition on one entity, from its raise to
// its closing. It is the API's JSON and the state file's record.
type Alarm struct {
	ID       string   `json:"id"`
	Rule     string   `json:"rule"`
	Severity Severity `json:"severity"`
	Label    Text     `json:"label"`
	State    State    `json:"state"`
	// Entity is the site's or area's entity ID, or "city".
	Entity     string `json:"entity"`
	EntityKind string `json:"entityKind"`
	EntityName string `json:"entityName,omitempty"`
	// Area is the area a site lies in.
	Area string `json:"area,omitempty"`
	// Location is a site's [lon, lat].
	Location *[2]float64 `json:"location,omitempty"`
	// Quantity is the point or indicator watched.
	Quantity  string  `json:"quantity"`
	Unit      string  `json:"unit,omitempty"`
	Direction string  `json:"direction"`
	Threshold float64 `json:"threshold"`
	// Window is the rolling window of the mean compared ("" for the latest
	// value), e.g. "24h0m0s".
	Window string `json:"window,omitempty"`
	// ValueAtRaise is the compared value when the alarm was (last)
	// raised, Value the latest, Peak the worst since the first raise.
	ValueAtRaise float64 `json:"valueAtRaise"`
	Value        float64 `json:"value"`
	Peak         float64 `json:"peak"`
	// RaisedAt is the latest raise; Raises counts them (a cleared,
	// unacknowledged alarm whose condition returns is raised again).
	RaisedAt     time.Time  `json:"raisedAt"`
	Raises       int        `json:"raises"`
	Acknowledged *Ack       `json:"acknowledged,omitempty"`
	ClearedAt    *time.Time `json:"clearedAt,omitempty"`
	// ClearReason says why an alarm cleared other than by its value
	// ("entity removed", "rule removed").
	ClearReason string    `json:"clearReason,omitempty"`
	UpdatedAt   time.Time `json:"updatedAt"`
}

// Event is one change of an alarm's state, as the stream sends it.
type Event struct {
	// Type is the state the alarm entered ("raised", "acknowledged",
	// "cleared", "closed").
	Type  State `json:"type"`
	Alarm Alarm `json:"alarm"`
}
