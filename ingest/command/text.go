package command

import (
	"encoding/json"
	"net/http"

	"github.com/ponte-city/ponte/internal/profile"
)

// Text commands (a message sign's message, issue 16): a point whose
// profile gives text rules takes "text" instead of "value". Ingest checks
// the text against the rules (profile.Write.CheckText, after
// NormalizeText) and refuses with 400 naming the field and the rule; the
// command, its audit entries and its InfluxDB points carry the text (a
// string field "text"; "readback_text" for what the gateway read back).

// checkWrite checks req's value or text against the point's write rules
// and returns the text to send (nil for a numeric command). A value for a
// text point, a text for a numeric point, a missing one and a refusal of
// the rules are 400 naming the field.
func checkWrite(wp *profile.WritePoint, req Request) (*string, *Error) {
	w := wp.Write
	if !w.IsText() {
		switch {
		case req.Text != nil:
			return nil, fieldError("text", "point %s takes a number (value), not a text", wp.Name)
		case req.Value == nil:
			return nil, fieldError("value", "required (a number in the point's unit)")
		}
		if err := w.Check(*req.Value, wp.Unit); err != nil {
			return nil, &Error{Status: http.StatusBadRequest, Field: "value", Msg: err.Error()}
		}
		return nil, nil
	}
	switch {
	case req.Value != nil:
		return nil, fieldError("value", "point %s takes a text (the message to show), not a number: send text", wp.Name)
	case req.Text == nil:
		return nil, fieldError("text", "required (the message to show)")
	}
	t := w.NormalizeText(*req.Text)
	if err := w.CheckText(t); err != nil {
		return nil, &Error{Status: http.StatusBadRequest, Field: "text", Msg: err.Error()}
	}
	return &t, nil
}

// MarshalJSON leaves "value" out of a text command.
func (c Command) MarshalJSON() ([]byte, error) {
	type plain Command
	var v *float64
	if c.Text == "" {
		x := c.Value
		v = &x
	}
	return json.Marshal(struct {
		plain
		Value *float64 `json:"value,omitempty"`
	}{plain(c), v})
}
