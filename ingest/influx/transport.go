package influx

import (
	"bytes"
	"context"
	"io"
	"net/http"
)

// maxErrorBody bounds how much of an error response is kept for
// attributing refused lines.
const maxErrorBody = 1 << 20

// captureKey is the context key of a *capture.
type captureKey struct{}

// capture receives the raw body of an error response. The client library
// decodes error bodies itself and keeps only "code" and "message" (2.x);
// InfluxDB 1.x says {"error": ...} and 3.x adds a per-line list, which
// would be lost, leaving only the X-Influxdb-Error header cut at 1 KiB.
type capture struct {
	status int
	body   []byte
}

// withCapture returns ctx carrying c for the transport to fill.
func withCapture(ctx context.Context, c *capture) context.Context {
	return context.WithValue(ctx, captureKey{}, c)
}

// captureTransport copies the body of non-2xx responses into the request's
// capture, and hands the client an identical body.
type captureTransport struct {
	base http.RoundTripper
}

// RoundTrip implements http.RoundTripper.
func (t captureTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	if err != nil || resp.StatusCode/100 == 2 {
		return resp, err
	}
	c, _ := req.Context().Value(captureKey{}).(*capture)
	if c == nil {
		return resp, nil
	}
	body, rerr := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
	_ = resp.Body.Close()
	c.status, c.body = resp.StatusCode, body
	resp.Body = io.NopCloser(bytes.NewReader(body))
	if rerr != nil {
		return nil, rerr
	}
	return resp, nil
}
