package config

import (
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"
)

func lookup(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestLoad(t *testing.T) {
	all := Needs{Database: true, Redis: true, Signing: true}
	good := map[string]string{
		"DATABASE_URL": "postgres://app@127.0.0.1:6432/app",
		"REDIS_URL":    "redis://127.0.0.1:6379/0",
		"JWT_SECRET":   strings.Repeat("k", 32),
	}
	t.Run("Defaults", func(t *testing.T) {
		c, err := Load(lookup(good), all)
		if err != nil {
			t.Fatal(err)
		}
		if c.DBMaxConns != 2 || c.DBMinConns != 0 || c.DBConnectTimeout != 2*time.Second ||
			c.CacheTTL != 300*time.Second || c.ListCacheTTL != 60*time.Second || c.AccessTokenTTL != 15*time.Minute {
			t.Fatalf("unexpected defaults: %+v", c)
		}
		if sh := c.Shards(); len(sh) != 1 || sh[0].Writer != good["DATABASE_URL"] || sh[0].Reader != "" {
			t.Fatalf("one shard of DATABASE_URL without a reader, got %+v", sh)
		}
	})
	t.Run("ReaderURL", func(t *testing.T) {
		m := clone(good)
		m["DATABASE_READER_URL"] = "postgres://app@127.0.0.1:6433/app"
		c, err := Load(lookup(m), all)
		if err != nil {
			t.Fatal(err)
		}
		if sh := c.Shards(); len(sh) != 1 || sh[0].Reader != m["DATABASE_READER_URL"] {
			t.Fatalf("got %+v", sh)
		}
	})
	t.Run("Shards", func(t *testing.T) {
		m := clone(good)
		delete(m, "DATABASE_URL")
		m["DATABASE_SHARDS"] = `[{"name":"a","writer":"postgres://app@a/app"},{"name":"b","writer":"postgres://app@b/app","reader":"postgres://app@b-ro/app"}]`
		c, err := Load(lookup(m), all)
		if err != nil {
			t.Fatal(err)
		}
		if sh := c.Shards(); len(sh) != 2 || sh[1].Name != "b" || sh[1].Reader != "postgres://app@b-ro/app" {
			t.Fatalf("got %+v", sh)
		}
	})
	cases := []struct {
		name string
		set  map[string]string
		want string
	}{
		{"MissingDatabase", map[string]string{"DATABASE_URL": ""}, "DATABASE_URL is required"},
		{"ShardsAndURL", map[string]string{"DATABASE_SHARDS": `[{"name":"a","writer":"postgres://h/db"}]`}, "DATABASE_SHARDS replaces DATABASE_URL"},
		{"BadShards", map[string]string{"DATABASE_URL": "", "DATABASE_SHARDS": `[{"name":"a","writer":"postgres://u:s3cret@h/db"},{"name":"a","writer":"postgres://h/db"}]`}, `DATABASE_SHARDS: shard 2: name "a" used twice`},
		{"WrongScheme", map[string]string{"DATABASE_URL": "mysql://x@h/db"}, `scheme "mysql"`},
		{"PasswordNotEchoed", map[string]string{"REDIS_URL": "redis://:s3cret@%zz"}, "REDIS_URL: not a URL"},
		{"IAMWithoutRegion", map[string]string{"DATABASE_IAM_AUTH": "true"}, "needs AWS_REGION"},
		{"ZeroConns", map[string]string{"DB_MAX_CONNS": "0"}, "DB_MAX_CONNS must be at least 1"},
		{"MinAboveMax", map[string]string{"DB_MIN_CONNS": "3"}, "DB_MIN_CONNS must be between"},
		{"ShortSecret", map[string]string{"JWT_SECRET": "short"}, "at least 32 bytes"},
		{"NoSecret", map[string]string{"JWT_SECRET": ""}, "JWT_SECRET or JWT_SECRET_ARN"},
		{"BadLevel", map[string]string{"LOG_LEVEL": "loud"}, "LOG_LEVEL"},
		{"BadDuration", map[string]string{"CACHE_TTL": "five"}, "CACHE_TTL"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := clone(good)
			for k, v := range tc.set {
				m[k] = v
			}
			_, err := Load(lookup(m), all)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want error containing %q, got %v", tc.want, err)
			}
			if strings.Contains(fmtErr(err), "s3cret") {
				t.Fatalf("error leaks a password: %v", err)
			}
		})
	}
	t.Run("OnlyWhatIsNeeded", func(t *testing.T) {
		if _, err := Load(lookup(map[string]string{}), Needs{}); err != nil {
			t.Fatalf("a function with no dependencies needs no variables: %v", err)
		}
	})
}

// TestKeysMatchTags keeps the list Load reads in step with the struct's env tags.
func TestKeysMatchTags(t *testing.T) {
	var tags []string
	rt := reflect.TypeOf(Config{})
	for i := 0; i < rt.NumField(); i++ {
		if tag := rt.Field(i).Tag.Get("env"); tag != "" {
			tags = append(tags, tag)
		}
	}
	got := append([]string(nil), keys...)
	sort.Strings(tags)
	sort.Strings(got)
	if !reflect.DeepEqual(tags, got) {
		t.Fatalf("keys %v\n tags %v", got, tags)
	}
}

func clone(m map[string]string) map[string]string {
	c := map[string]string{}
	for k, v := range m {
		c[k] = v
	}
	return c
}

func fmtErr(err error) string { return err.Error() }
