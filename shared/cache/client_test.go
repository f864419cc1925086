package cache

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func TestNewClient(t *testing.T) {
	t.Parallel()

	t.Run("StandaloneDefaults", func(t *testing.T) {
		client, err := NewClient(ClientOptions{URL: "redis://127.0.0.1:6390/2"})
		if err != nil {
			t.Fatal(err)
		}
		defer client.Close()
		c, ok := client.(*redis.Client)
		if !ok {
			t.Fatalf("got %T, want *redis.Client", client)
		}
		o := c.Options()
		if o.Addr != "127.0.0.1:6390" || o.DB != 2 {
			t.Errorf("addr %q db %d", o.Addr, o.DB)
		}
		if o.DialTimeout != DefaultDialTimeout || o.ReadTimeout != DefaultReadTimeout || o.WriteTimeout != DefaultWriteTimeout {
			t.Errorf("timeouts dial %v read %v write %v", o.DialTimeout, o.ReadTimeout, o.WriteTimeout)
		}
		if o.PoolSize != DefaultPoolSize || o.MaxRetries != 0 || o.DialerRetries != 1 {
			t.Errorf("pool %d retries %d dialer retries %d", o.PoolSize, o.MaxRetries, o.DialerRetries)
		}
		if o.PoolTimeout != DefaultDialTimeout+DefaultReadTimeout {
			t.Errorf("pool timeout %v", o.PoolTimeout)
		}
		if !o.ContextTimeoutEnabled {
			t.Error("context deadlines not honoured")
		}
	})

	t.Run("ClusterFromAddrParams", func(t *testing.T) {
		client, err := NewClient(ClientOptions{URL: "redis://127.0.0.1:7000?addr=127.0.0.1:7001&addr=127.0.0.1:7002"})
		if err != nil {
			t.Fatal(err)
		}
		defer client.Close()
		c, ok := client.(*redis.ClusterClient)
		if !ok {
			t.Fatalf("got %T, want *redis.ClusterClient", client)
		}
		o := c.Options()
		if len(o.Addrs) != 3 {
			t.Errorf("addrs %v", o.Addrs)
		}
		if o.ReadTimeout != DefaultReadTimeout || o.PoolSize != DefaultPoolSize || o.DialerRetries != 1 || o.MaxRetries != -1 {
			t.Errorf("read %v pool %d dialer retries %d retries %d", o.ReadTimeout, o.PoolSize, o.DialerRetries, o.MaxRetries)
		}
	})

	t.Run("ClusterFromOption", func(t *testing.T) {
		client, err := NewClient(ClientOptions{URL: "redis://127.0.0.1:7000", Cluster: true})
		if err != nil {
			t.Fatal(err)
		}
		defer client.Close()
		if _, ok := client.(*redis.ClusterClient); !ok {
			t.Fatalf("got %T, want *redis.ClusterClient", client)
		}
	})

	t.Run("TLS", func(t *testing.T) {
		for _, cluster := range []bool{false, true} {
			client, err := NewClient(ClientOptions{URL: "rediss://cache.example.com:6379", Cluster: cluster})
			if err != nil {
				t.Fatal(err)
			}
			var tlsOK bool
			switch c := client.(type) {
			case *redis.Client:
				tlsOK = c.Options().TLSConfig != nil && c.Options().TLSConfig.ServerName == "cache.example.com"
			case *redis.ClusterClient:
				tlsOK = c.Options().TLSConfig != nil && c.Options().TLSConfig.ServerName == "cache.example.com"
			}
			if !tlsOK {
				t.Errorf("cluster=%v: no TLS config for rediss://", cluster)
			}
			client.Close()
		}
	})

	t.Run("PrecedenceOptionThenURLThenDefault", func(t *testing.T) {
		client, err := NewClient(ClientOptions{
			URL:         "redis://127.0.0.1:6390?read_timeout=2s&dial_timeout=3s&pool_size=7&max_retries=2",
			ReadTimeout: 80 * time.Millisecond,
		})
		if err != nil {
			t.Fatal(err)
		}
		defer client.Close()
		o := client.(*redis.Client).Options()
		if o.ReadTimeout != 80*time.Millisecond {
			t.Errorf("read timeout %v, want the option's 80ms", o.ReadTimeout)
		}
		if o.DialTimeout != 3*time.Second || o.PoolSize != 7 || o.MaxRetries != 2 {
			t.Errorf("dial %v pool %d retries %d, want the URL's 3s, 7, 2", o.DialTimeout, o.PoolSize, o.MaxRetries)
		}
		if o.WriteTimeout != DefaultWriteTimeout {
			t.Errorf("write timeout %v, want the default", o.WriteTimeout)
		}
	})

	t.Run("ErrBadURL", func(t *testing.T) {
		for _, u := range []string{
			"",
			"http://127.0.0.1:6379",
			"redis://:s3cret@127.0.0.1:6379?bogus=1",
			"redis://:s3cret@127.0.0.1:6379?addr=nonsense",
			"redis://:s3cret@%zz",
		} {
			_, err := NewClient(ClientOptions{URL: u})
			if err == nil {
				t.Errorf("%q: no error", u)
				continue
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("%q: error leaks the password: %v", u, err)
			}
		}
	})

	for _, b := range backends {
		t.Run("Ping"+b.name, func(t *testing.T) {
			client, err := NewClient(ClientOptions{URL: b.url(t)})
			if err != nil {
				t.Fatal(err)
			}
			defer client.Close()
			// The production timeouts, with a few tries: a 50 ms read can lose to a busy CI box.
			var perr error
			for range 5 {
				if perr = client.Ping(context.Background()).Err(); perr == nil {
					break
				}
			}
			if perr != nil {
				t.Fatalf("ping: %v", perr)
			}
			if b.name == "Cluster" {
				if _, ok := client.(*redis.ClusterClient); !ok {
					t.Fatalf("cluster URL gave %T", client)
				}
			}
		})
	}
}
