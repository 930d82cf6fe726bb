package rsmp

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/ponte-city/ponte/edge/source"
	"github.com/ponte-city/ponte/internal/profile"
	"github.com/ponte-city/ponte/wire"
)

// WritePoint implements source.Writer for the profiles' rsmp.commands: it
// sends a CommandRequest (the value in the command's value argument, the
// device's security code in its security-code argument, the fixed
// arguments), waits for the site's MessageAck and CommandResponse, waits
// the settle time, and reads the read-back status with a StatusRequest.
//
// The CommandResponse's age for the value argument says what the site
// did (RSMP core 3.2.2, "Command return value"): "recent" accepted;
// "undefined" the component does not exist; "unknown" the command is not
// implemented; "old" is not an answer to this command. A MessageNotAck
// (an incorrect security code: SXL TLC 1.2.1, "Security codes") is a
// refusal whose reason is the site's rea.
func (s *Source) WritePoint(ctx context.Context, req source.WriteRequest) (float64, error) {
	var d *device
	for _, dev := range s.devices {
		if dev.name == req.Device {
			d = dev
		}
	}
	if d == nil {
		return 0, fmt.Errorf("rsmp source: device %s: %w", req.Device, source.ErrUnknownDevice)
	}
	c := d.prof.Command(req.Point)
	if c == nil {
		return 0, fmt.Errorf("rsmp device %s: %s is not a command of its profile (rsmp.commands)", d.name, req.Point)
	}
	rules := req.Rules
	if rules == nil {
		rules = &c.Write
	}
	if c.SecurityCode != "" && d.code == "" {
		return 0, fmt.Errorf("rsmp device %s: %s needs the site's security code, and the site config gives none (security_code_file or security_code_env): not written", d.name, req.Point)
	}
	sess, err := d.waitSession(ctx, req.Expires)
	if err != nil {
		return 0, err
	}
	release := c.Release != nil && req.Value == c.Release.Value
	valueText := strconv.FormatFloat(req.Value, 'f', -1, 64)
	if release {
		// The value argument must be sent (core 3.2.2, "Incomplete
		// commands") but is ignored: send the plan in force.
		plan, err := d.readNumber(ctx, sess, rules.ReadbackPoint(c.Name))
		if err != nil {
			return 0, fmt.Errorf("rsmp device %s: %s: read the current value before the release: %w: not written", d.name, req.Point, err)
		}
		valueText = strconv.FormatFloat(plan, 'f', -1, 64)
	}
	args := d.args(c, valueText, release)
	log := d.log.With("point", c.Name, "value", req.Value, "cCI", c.CCI)
	m, err := sess.commandRequest(ctx, d.component(c.Component), args, req.Expires)
	if err != nil {
		if errors.Is(err, source.ErrExpired) {
			return 0, err
		}
		if rea, ok := IsNotAck(err); ok {
			log.Warn("rsmp command refused", "rea", clip(rea))
			return 0, fmt.Errorf("rsmp device %s: %s %s refused by the site: %s", d.name, c.CCI, c.CO, clip(rea))
		}
		return 0, fmt.Errorf("rsmp device %s: %s %s: %w (the command may have reached the site)", d.name, c.CCI, c.CO, err)
	}
	if err := accepted(m, c); err != nil {
		log.Warn("rsmp command not accepted", "err", err)
		return 0, fmt.Errorf("rsmp device %s: %w", d.name, err)
	}
	log.Info("rsmp command accepted")
	if settle := rules.Settle.D(); settle > 0 {
		t := time.NewTimer(settle)
		select {
		case <-ctx.Done():
			t.Stop()
			return 0, fmt.Errorf("rsmp device %s: %s: no read-back before the command's time ran out: %w", d.name, req.Point, ctx.Err())
		case <-t.C:
		}
	}
	if release {
		text, err := d.readText(ctx, sess, c.Release.Readback)
		if err != nil {
			return 0, fmt.Errorf("rsmp device %s: read back %s: %w", d.name, c.Release.Readback, err)
		}
		if text == c.Release.Equals {
			return c.Release.Value, nil
		}
		log.Warn("rsmp release not read back", c.Release.Readback, text)
	}
	rb, err := d.readNumber(ctx, sess, rules.ReadbackPoint(c.Name))
	if err != nil {
		return 0, fmt.Errorf("rsmp device %s: read back %s: %w", d.name, rules.ReadbackPoint(c.Name), err)
	}
	log.Info("rsmp command read back", "readback", rb)
	return rb, nil
}

// sessionPoll is how often a command waiting for its site's connection
// looks again.
const sessionPoll = 100 * time.Millisecond

// waitSession returns the device's session, waiting while it reconnects
// until ctx ends or the command expires (source.ErrExpired): a command
// that arrives during a reconnection is written once the site is back,
// within its time.
func (d *device) waitSession(ctx context.Context, expires time.Time) (*session, error) {
	t := time.NewTicker(sessionPoll)
	defer t.Stop()
	for {
		if !expires.IsZero() && !time.Now().Before(expires) {
			return nil, source.ErrExpired
		}
		d.mu.Lock()
		sess := d.sess
		d.mu.Unlock()
		if sess != nil {
			return sess, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("rsmp device %s: not connected to site %s: %w: not written", d.name, d.addr.Site, ctx.Err())
		case <-t.C:
		}
	}
}

// args builds the CommandRequest's arguments: value, security code, fixed
// arguments (overridden by the release's when releasing).
func (d *device) args(c *profile.RSMPCommand, value string, release bool) []CommandArg {
	var out []CommandArg
	for _, n := range c.ArgNames() {
		v := c.Arguments[n]
		switch {
		case n == c.Value:
			v = value
		case n == c.SecurityCode:
			v = d.code
		case release:
			if r, ok := c.Release.Arguments[n]; ok {
				v = r
			}
		}
		out = append(out, CommandArg{CCI: c.CCI, N: n, CO: c.CO, V: v})
	}
	return out
}

// accepted checks the CommandResponse's return value for the command's
// value argument.
func accepted(m *Message, c *profile.RSMPCommand) error {
	v, ok := find(m.Values, c.CCI, c.Value)
	if !ok {
		return fmt.Errorf("%s: the CommandResponse has no return value %s", c.CCI, c.Value)
	}
	switch v.Quality {
	case Recent:
		return nil
	case Undefined:
		return fmt.Errorf("%s refused by the site: age undefined (the component does not exist)", c.CCI)
	case Unknown:
		return fmt.Errorf("%s failed: age unknown (the site does not implement it, or the value is unknown)", c.CCI)
	case Old:
		return fmt.Errorf("%s failed: age old (the site answered with a value not up to date)", c.CCI)
	}
	return fmt.Errorf("%s: age %q (expected recent, old, undefined or unknown)", c.CCI, v.Quality)
}

// readNumber reads status point name now, as a number.
func (d *device) readNumber(ctx context.Context, sess *session, name string) (float64, error) {
	r, err := d.readPoint(ctx, sess, name)
	if err != nil {
		return 0, err
	}
	f, ok := r.Value.AsFloat()
	if !ok {
		return 0, fmt.Errorf("%s is not a number (%s)", name, r.Value)
	}
	return f, nil
}

// readText reads status point name now, as its text.
func (d *device) readText(ctx context.Context, sess *session, name string) (string, error) {
	r, err := d.readPoint(ctx, sess, name)
	if err != nil {
		return "", err
	}
	if r.Value.Kind != wire.KindString {
		return r.Value.String(), nil
	}
	return r.Value.S, nil
}

func (d *device) readPoint(ctx context.Context, sess *session, name string) (wire.Reading, error) {
	st := d.prof.Status(name)
	if st == nil {
		return wire.Reading{}, fmt.Errorf("no status point %s in the profile", name)
	}
	m, err := sess.statuses(ctx, d.component(st.Component), []StatusRef{{SCI: st.SCI, N: st.N}})
	if err != nil {
		return wire.Reading{}, err
	}
	r := d.reading(st, m, time.Now())
	if !r.Quality.Good() {
		return r, fmt.Errorf("%s", r.Reason)
	}
	return r, nil
}
