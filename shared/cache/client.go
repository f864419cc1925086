package cache

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// Defaults for NewClient. A Lambda environment serves one request at a time and the cache is an
// optimisation, so a dead or slow Redis must cost a request a few milliseconds, not the seconds
// go-redis defaults to (5 s timeouts, 5 dial attempts, 3 retries).
const (
	// DefaultDialTimeout bounds one TCP (and TLS) connect. In a VPC, ElastiCache answers a
	// connect in well under a millisecond; 150 ms leaves room for a cold ENI and TLS.
	DefaultDialTimeout = 150 * time.Millisecond
	// DefaultReadTimeout bounds waiting for one reply; a healthy GET takes ~0.2 ms.
	DefaultReadTimeout = 50 * time.Millisecond
	// DefaultWriteTimeout bounds writing one command.
	DefaultWriteTimeout = 50 * time.Millisecond
	// DefaultPoolSize is connections per Redis node: one for the request plus one spare, since
	// an environment serves one request at a time.
	DefaultPoolSize = 2
)

// ClientOptions configures NewClient. Zero fields take the value the URL's query gives
// (go-redis's dial_timeout, read_timeout, ... parameters), then the Default* constants.
type ClientOptions struct {
	// URL is redis://[user:pass@]host:port[/db], rediss:// for TLS, or a cluster seed list in
	// go-redis's ParseClusterURL form: redis://h1:p1?addr=h2:p2&addr=h3:p3.
	URL string
	// Cluster forces a cluster client even for a single seed address (an ElastiCache
	// configuration endpoint). A URL with addr= parameters is a cluster either way.
	Cluster bool

	DialTimeout  time.Duration
	ReadTimeout  time.Duration
	WriteTimeout time.Duration
	// PoolSize is connections per node.
	PoolSize int
}

// NewClient builds a standalone or cluster client from opts with tight timeouts, a small pool and
// no command retries. It does not connect: the first command dials, so a Redis that is down at
// cold start does not fail the function's init.
func NewClient(opts ClientOptions) (redis.UniversalClient, error) {
	if opts.URL == "" {
		return nil, errors.New("cache: redis URL is empty")
	}
	u, err := url.Parse(opts.URL)
	if err != nil {
		// url.Error repeats the URL, password included; say only what is wrong.
		return nil, errors.New("cache: redis URL does not parse")
	}
	q := u.Query()
	t := tuning{
		dial:  pick(opts.DialTimeout, q.Has("dial_timeout"), DefaultDialTimeout),
		read:  pick(opts.ReadTimeout, q.Has("read_timeout"), DefaultReadTimeout),
		write: pick(opts.WriteTimeout, q.Has("write_timeout"), DefaultWriteTimeout),
		pool:  opts.PoolSize,
		q:     q,
	}
	if t.pool == 0 && !q.Has("pool_size") {
		t.pool = DefaultPoolSize
	}

	if opts.Cluster || q.Has("addr") {
		co, err := redis.ParseClusterURL(opts.URL)
		if err != nil {
			return nil, fmt.Errorf("cache: cluster URL: %w", redactErr(err, u))
		}
		t.applyCluster(co)
		return redis.NewClusterClient(co), nil
	}
	o, err := redis.ParseURL(opts.URL)
	if err != nil {
		return nil, fmt.Errorf("cache: redis URL: %w", redactErr(err, u))
	}
	t.apply(o)
	return redis.NewClient(o), nil
}

// tuning is the resolved set of knobs NewClient applies over what the URL parsed to. A value the
// URL sets explicitly (q.Has) wins over our default but loses to a ClientOptions field.
type tuning struct {
	dial, read, write time.Duration
	pool              int
	q                 url.Values
}

// pick returns the explicit option, else 0 when the URL set the parameter (keep the parsed
// value), else the default.
func pick(opt time.Duration, inURL bool, def time.Duration) time.Duration {
	switch {
	case opt != 0:
		return opt
	case inURL:
		return 0
	default:
		return def
	}
}

func (t tuning) apply(o *redis.Options) {
	setDur(&o.DialTimeout, t.dial)
	setDur(&o.ReadTimeout, t.read)
	setDur(&o.WriteTimeout, t.write)
	if t.pool != 0 {
		o.PoolSize = t.pool
	}
	if !t.q.Has("dialer_retries") {
		// One dial attempt: go-redis's default of 5 attempts 100 ms apart turns a refused
		// connection into half a second.
		o.DialerRetries = 1
	}
	if !t.q.Has("max_retries") {
		// -1 means no retries (0 means go-redis's default of 3). A failed cache read costs one
		// database read; a retried timeout would double the cost of a slow Redis.
		o.MaxRetries = -1
	}
	if !t.q.Has("pool_timeout") {
		// Waiting for a pooled connection longer than a dial plus a reply means the pool is
		// stuck behind a slow Redis; give up and read the database.
		o.PoolTimeout = o.DialTimeout + o.ReadTimeout
	}
	if !t.q.Has("pipeline_pool_size") {
		// Pipelines (Delete) share the main pool rather than a second pool of up to 10
		// connections per node.
		o.PipelinePoolSize = -1
	}
	// The request's context (with the Lambda deadline) bounds every command too.
	o.ContextTimeoutEnabled = true
	// CLIENT SETINFO and CLIENT MAINT_NOTIFICATIONS are extra round trips on every new
	// connection, and Lambda environments dial often (cold starts, thaws); neither helps a
	// cache.
	o.DisableIdentity = true
	o.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	if !t.q.Has("protocol") {
		o.Protocol = resp2
	}
}

// resp2 is the protocol the clients speak. RESP3 buys push notifications (client-side caching,
// maintenance events), which nothing here uses, and costs a HELLO round trip on every new
// connection and a check for pending pushes before every reply: 6 % of the server's CPU on a
// cached GET (pprof, make bench-peer).
const resp2 = 2

func (t tuning) applyCluster(o *redis.ClusterOptions) {
	setDur(&o.DialTimeout, t.dial)
	setDur(&o.ReadTimeout, t.read)
	setDur(&o.WriteTimeout, t.write)
	if t.pool != 0 {
		o.PoolSize = t.pool
	}
	if !t.q.Has("dialer_retries") {
		o.DialerRetries = 1
	}
	if !t.q.Has("max_retries") {
		o.MaxRetries = -1
	}
	if !t.q.Has("pool_timeout") {
		o.PoolTimeout = o.DialTimeout + o.ReadTimeout
	}
	if !t.q.Has("pipeline_pool_size") {
		o.PipelinePoolSize = -1
	}
	o.ContextTimeoutEnabled = true
	o.DisableIdentity = true
	o.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	if !t.q.Has("protocol") {
		o.Protocol = resp2
	}
}

func setDur(dst *time.Duration, v time.Duration) {
	if v != 0 {
		*dst = v
	}
}

// redactErr keeps a URL's password out of an error that may quote the URL.
func redactErr(err error, u *url.URL) error {
	if u.User == nil {
		return err
	}
	if p, ok := u.User.Password(); ok && p != "" {
		return errors.New(strings.ReplaceAll(err.Error(), p, "xxxxx"))
	}
	return err
}
