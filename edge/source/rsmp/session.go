package rsmp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ponte-city/ponte/edge/source"
)

// ErrDisrupted says the connection ended or a message went unacknowledged
// (RSMP core 3.2.2, "Message acknowledgement": no acknowledgement within
// the timeout is a communication disruption). The device reconnects.
var ErrDisrupted = errors.New("rsmp: communication disruption")

// ErrRefused is a Version exchange that did not agree (site ID, SXL or
// RSMP versions): the connection is closed, as "Communication rejection"
// says, and retried with backoff (a site reconfigured on the roadside may
// agree later).
var ErrRefused = errors.New("rsmp: version exchange refused")

// handshakeParams are what the supervisor checks and announces.
type handshakeParams struct {
	device   string
	siteID   string
	sxl      string
	versions []string
	timeout  time.Duration
	badFrame func()
}

// session is one established RSMP connection to a site. A reader
// goroutine acknowledges every message the site sends and routes acks
// and responses; requests are serialised (one StatusRequest or
// CommandRequest at a time), since RSMP responses carry no reference to
// their request.
type session struct {
	conn    net.Conn
	fr      *Framer
	log     *slog.Logger
	timeout time.Duration // for an ack and for a response
	version string        // the RSMP version in use

	wmu sync.Mutex // one writer at a time

	mu       sync.Mutex
	acks     map[string]chan error // mId sent -> its ack (nil) or NotAck
	watchdog chan struct{}         // the site's watchdogs (buffered 1)
	status   chan *Message         // StatusResponses (buffered 1)
	command  chan *Message         // CommandResponses (buffered 1)
	done     chan struct{}         // closed when the reader ends
	err      error                 // why it ended, set before done closes

	req chan struct{} // one request awaiting its response at a time: a slot
	// badFrame, when set, counts a message from the site that was too
	// long or did not decode.
	badFrame func()
}

// establish runs the supervisor's part of "Communication establishment
// between sites and supervision system" (RSMP core 3.2.2) on conn: the
// site's Version is checked (site ID, SXL, a common RSMP version) and
// acknowledged, this side's Version is sent and acknowledged, the site's
// Watchdog is awaited and acknowledged, and this side's Watchdog is sent
// and acknowledged. A mismatch is answered with a MessageNotAck whose
// rea says why, and returned as ErrRefused.
func establish(ctx context.Context, conn net.Conn, p handshakeParams, maxMsg int, log *slog.Logger) (*session, error) {
	s := &session{conn: conn, fr: NewFramer(conn, maxMsg), log: log, timeout: p.timeout,
		acks: map[string]chan error{}, watchdog: make(chan struct{}, 1),
		status: make(chan *Message, 1), command: make(chan *Message, 1), done: make(chan struct{}), badFrame: p.badFrame,
		req: make(chan struct{}, 1)}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) })
	defer stop()
	_ = conn.SetReadDeadline(time.Now().Add(p.timeout))
	var v *Message
	for v == nil {
		data, err := s.fr.Next()
		if err != nil {
			return nil, fmt.Errorf("%w: no Version message from the site within %s: %v", ErrDisrupted, p.timeout, err)
		}
		m, err := Decode(data)
		var de *DecodeError
		switch {
		case errors.As(err, &de) && de.MID != "":
			_ = s.write(encodeNotAck(de.MID, de.Reason))
		case err != nil:
		case m.Type == TypeVersion:
			v = m
		}
		// Anything else before the Version is not acknowledged (RSMP core
		// 3.2.2, "Message acknowledgement").
	}
	chosen, rea := agree(v, p)
	if rea != "" {
		_ = s.write(encodeNotAck(v.MID, rea))
		return nil, fmt.Errorf("%w: device %s: %s", ErrRefused, p.device, rea)
	}
	s.version = chosen
	if err := s.write(encodeAck(v.MID)); err != nil {
		return nil, err
	}
	_ = conn.SetReadDeadline(time.Time{})
	go s.read()
	if err := s.send(ctx, newMID(), func(mid string) []byte { return encodeVersion(mid, p.versions, p.siteID, p.sxl) }); err != nil {
		s.close()
		if rea, ok := IsNotAck(err); ok {
			return nil, fmt.Errorf("%w: device %s: the site refused this supervisor's Version: %s", ErrRefused, p.device, rea)
		}
		return nil, fmt.Errorf("send Version: %w", err)
	}
	select {
	case <-s.watchdog:
	case <-s.done:
		return nil, s.err
	case <-time.After(p.timeout):
		s.close()
		return nil, fmt.Errorf("%w: no Watchdog from the site within %s after the Version exchange", ErrDisrupted, p.timeout)
	case <-ctx.Done():
		s.close()
		return nil, ctx.Err()
	}
	if err := s.sendWatchdog(ctx); err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

// agree checks the site's Version against p and returns the RSMP version
// to use (the newest both offer), or the reason for refusing it, worded
// as the spec's example ("RSMP versions [3.1.5] requested, but only
// [3.1.1,3.1.2] supported").
func agree(v *Message, p handshakeParams) (version, rea string) {
	if !slices.Contains(v.SiteIDs, p.siteID) {
		return "", fmt.Sprintf("site ID mismatch: the site announced %s, device %s expects %s",
			clip(strings.Join(v.SiteIDs, ",")), p.device, p.siteID)
	}
	if v.SXL != p.sxl {
		return "", fmt.Sprintf("SXL mismatch: the site announced SXL %s, device %s expects SXL %s", clip(v.SXL), p.device, p.sxl)
	}
	for _, ver := range v.Versions {
		if slices.Contains(p.versions, ver) && (version == "" || newer(ver, version)) {
			version = ver
		}
	}
	if version == "" {
		return "", fmt.Sprintf("RSMP versions [%s] requested, but only [%s] supported",
			clip(strings.Join(v.Versions, ",")), strings.Join(p.versions, ","))
	}
	return version, ""
}

// newer reports whether version a is above b, comparing their numbers.
func newer(a, b string) bool {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := range max(len(pa), len(pb)) {
		var x, y int
		if i < len(pa) {
			x, _ = strconv.Atoi(pa[i])
		}
		if i < len(pb) {
			y, _ = strconv.Atoi(pb[i])
		}
		if x != y {
			return x > y
		}
	}
	return false
}

// write sends one frame.
func (s *session) write(frame []byte) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	_ = s.conn.SetWriteDeadline(time.Now().Add(s.timeout))
	if _, err := s.conn.Write(frame); err != nil {
		return fmt.Errorf("%w: write: %v", ErrDisrupted, err)
	}
	return nil
}

// send writes the message build makes with a new mId and waits for the
// site's MessageAck; a MessageNotAck is returned as an error IsNotAck
// recognises; no ack within the timeout is ErrDisrupted and closes the
// session.
func (s *session) send(ctx context.Context, mid string, build func(mid string) []byte) error {
	ack := make(chan error, 1)
	s.mu.Lock()
	s.acks[mid] = ack
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.acks, mid)
		s.mu.Unlock()
	}()
	if err := s.write(build(mid)); err != nil {
		s.close()
		return err
	}
	t := time.NewTimer(s.timeout)
	defer t.Stop()
	select {
	case err := <-ack:
		return err
	case <-s.done:
		return s.err
	case <-t.C:
		s.close()
		return fmt.Errorf("%w: no MessageAck within %s", ErrDisrupted, s.timeout)
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *session) sendWatchdog(ctx context.Context) error {
	if err := s.send(ctx, newMID(), func(mid string) []byte { return encodeWatchdog(mid, time.Now()) }); err != nil {
		return fmt.Errorf("watchdog: %w", err)
	}
	return nil
}

// request sends a request and returns the response that follows its ack
// on ch (s.status or s.command) and that match accepts; a response it does
// not accept (a late answer to an earlier request) is dropped and the wait
// goes on. It waits for the request before it (a poll waiting for a slow
// site) as long as ctx allows, and when expires is set and has passed by
// the time it may send, it sends nothing and returns source.ErrExpired: a
// command is never sent after its expiry.
func (s *session) request(ctx context.Context, ch chan *Message, expires time.Time, match func(*Message) bool, build func(mid string) []byte) (*Message, error) {
	select {
	case s.req <- struct{}{}:
	case <-s.done:
		return nil, s.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-s.req }()
	if !expires.IsZero() && !time.Now().Before(expires) {
		return nil, source.ErrExpired
	}
	select { // a late response to an earlier request that timed out
	case <-ch:
	default:
	}
	if err := s.send(ctx, newMID(), build); err != nil {
		return nil, err
	}
	t := time.NewTimer(s.timeout)
	defer t.Stop()
	for {
		select {
		case m := <-ch:
			if match(m) {
				return m, nil
			}
			s.log.Warn("rsmp response to another request dropped", "type", m.Type, "cId", clip(m.CID))
		case <-s.done:
			return nil, s.err
		case <-t.C:
			return nil, fmt.Errorf("no response within %s", s.timeout)
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// statuses asks component cid for refs; the response must be cid's.
func (s *session) statuses(ctx context.Context, cid string, refs []StatusRef) (*Message, error) {
	match := func(m *Message) bool { return m.CID == cid }
	return s.request(ctx, s.status, time.Time{}, match, func(mid string) []byte { return encodeStatusRequest(mid, cid, refs) })
}

// commandRequest sends a CommandRequest to component cid, unless expires
// (if set) has passed when it may be sent; the response must be cid's and
// echo the arguments' values it returns.
func (s *session) commandRequest(ctx context.Context, cid string, args []CommandArg, expires time.Time) (*Message, error) {
	match := func(m *Message) bool {
		if m.CID != cid {
			return false
		}
		for _, v := range m.Values {
			for _, a := range args {
				if v.Code == a.CCI && v.Name == a.N && !v.Null && v.Text != a.V {
					return false
				}
			}
		}
		return true
	}
	return s.request(ctx, s.command, expires, match, func(mid string) []byte { return encodeCommandRequest(mid, cid, args) })
}

// read is the reader goroutine: it decodes every message, acknowledges
// what needs it and routes acks and responses, until the connection
// fails or is closed.
func (s *session) read() {
	var err error
	for {
		var data []byte
		data, err = s.fr.Next()
		if errors.Is(err, ErrTooLarge) {
			s.log.Warn("rsmp message skipped", "err", err)
			s.countBad()
			continue
		}
		if err != nil {
			break
		}
		m, derr := Decode(data)
		if derr != nil {
			s.countBad()
			var de *DecodeError
			if errors.As(derr, &de) && de.MID != "" {
				err = s.write(encodeNotAck(de.MID, de.Reason))
			}
			s.log.Warn("rsmp message not understood", "err", derr)
			if err != nil {
				break
			}
			continue
		}
		if err = s.handle(m); err != nil {
			break
		}
	}
	s.mu.Lock()
	if s.err == nil {
		s.err = fmt.Errorf("%w: %v", ErrDisrupted, err)
	}
	s.mu.Unlock()
	_ = s.conn.Close()
	close(s.done)
}

func (s *session) countBad() {
	if s.badFrame != nil {
		s.badFrame()
	}
}

// handle acknowledges and routes one message from the site.
func (s *session) handle(m *Message) error {
	switch m.Type {
	case TypeMessageAck, TypeMessageNotAck:
		s.mu.Lock()
		ack := s.acks[m.OMID]
		s.mu.Unlock()
		if ack == nil {
			s.log.Debug("rsmp ack for no message awaiting one", "oMId", m.OMID)
			return nil
		}
		var err error
		if m.Type == TypeMessageNotAck {
			err = &errNotAck{rea: m.Rea}
		}
		ack <- err
		return nil
	case TypeVersion:
		return s.write(encodeNotAck(m.MID, "Version already exchanged on this connection"))
	case TypeStatusRequest, TypeStatusSubscribe, TypeStatusUnsubscribe, TypeCommandRequest, TypeAggregatedStatusRequest:
		return s.write(encodeNotAck(m.MID, m.Type+" is not served by a supervisor"))
	}
	if err := s.write(encodeAck(m.MID)); err != nil {
		return err
	}
	switch m.Type {
	case TypeWatchdog:
		offer(s.watchdog, struct{}{})
	case TypeStatusResponse:
		offer(s.status, m)
	case TypeCommandResponse:
		offer(s.command, m)
	case TypeAggregatedStatus, TypeAlarm, TypeStatusUpdate:
		s.log.Debug("rsmp message acknowledged", "type", m.Type, "cId", m.CID)
	}
	return nil
}

// offer puts v on the buffered channel ch, replacing a value nobody took.
func offer[T any](ch chan T, v T) {
	for {
		select {
		case ch <- v:
			return
		default:
		}
		select {
		case <-ch:
		default:
		}
	}
}

// close ends the session; the reader goroutine then exits.
func (s *session) close() {
	s.mu.Lock()
	if s.err == nil {
		s.err = fmt.Errorf("%w: connection closed", ErrDisrupted)
	}
	s.mu.Unlock()
	_ = s.conn.Close()
}

// maxPeerText bounds the site's own texts (a refusal's reason, the IDs it
// announces) in logs and errors: a site may send up to a message's size.
const maxPeerText = 200

// clip returns s cut to maxPeerText bytes.
func clip(s string) string {
	if len(s) > maxPeerText {
		return s[:maxPeerText] + "..."
	}
	return s
}
