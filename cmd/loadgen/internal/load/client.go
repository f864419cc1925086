// Package load generates HTTP load against a base URL on the loopback interface: closed-loop at
// a fixed concurrency, or open-loop at a constant arrival rate with latency measured from each
// request's intended send time, recorded in HDR histograms per endpoint.
package load

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"time"
)

// ErrNotLoopback is returned for a base URL, or a connection, that would leave the machine.
var ErrNotLoopback = errors.New("load: only loopback addresses may be driven (127.0.0.0/8, ::1, localhost)")

// CheckLoopback parses base and fails unless it is an http URL whose host is localhost or a
// loopback IP literal. Other names are refused rather than resolved: a name that resolves to a
// loopback address today may not tomorrow.
func CheckLoopback(base string) (*url.URL, error) {
	u, err := url.Parse(base)
	if err != nil {
		return nil, fmt.Errorf("load: base URL: %w", err)
	}
	if u.Scheme != "http" {
		return nil, fmt.Errorf("load: base URL %q: only http:// is supported", base)
	}
	host := u.Hostname()
	if host == "localhost" {
		return u, nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return u, nil
	}
	return nil, fmt.Errorf("%w: %q", ErrNotLoopback, base)
}

// NewClient returns an HTTP client for loopback load at up to conns concurrent requests:
// keep-alive with conns idle connections kept (the default 2 would make most requests open a
// new connection and fill the port range with TIME_WAIT), no compression (the loopback has
// bandwidth to spare, gzip would only burn the CPU the server shares), no redirects followed,
// and a dialer that refuses anything but a loopback address, whatever a name resolves to.
func NewClient(conns int, timeout time.Duration) *http.Client {
	d := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			host, _, err := net.SplitHostPort(addr)
			if err != nil {
				return nil, err
			}
			if host != "localhost" {
				if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
					return nil, fmt.Errorf("%w: dial %s", ErrNotLoopback, addr)
				}
			}
			c, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			if ra, ok := c.RemoteAddr().(*net.TCPAddr); ok && !ra.IP.IsLoopback() {
				_ = c.Close()
				return nil, fmt.Errorf("%w: %s", ErrNotLoopback, ra)
			}
			return c, nil
		},
		MaxIdleConns:        conns + 16,
		MaxIdleConnsPerHost: conns + 16,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		ForceAttemptHTTP2:   false,
		WriteBufferSize:     16 << 10,
		ReadBufferSize:      32 << 10,
	}
	return &http.Client{
		Transport:     tr,
		Timeout:       timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}
