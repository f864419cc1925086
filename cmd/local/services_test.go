package main

import (
	"context"
	"io"
	"testing"
)

// TestExternalEndpointsDefaults checks what startServices sets beside a DATABASE_URL and a
// REDIS_URL given by hand: the template's defaults are for the stack's own Aurora reader and
// ElastiCache Serverless (cluster mode), neither of which an external endpoint is.
func TestExternalEndpointsDefaults(t *testing.T) {
	declared := map[string]bool{"DATABASE_URL": true, "REDIS_URL": true}
	const db, rd = "postgres://app@127.0.0.1:1/app", "redis://127.0.0.1:1"
	for _, tc := range []struct {
		name            string
		host            map[string]string
		reader, cluster string
	}{
		{"bare", map[string]string{"DATABASE_URL": db, "REDIS_URL": rd}, db, "false"},
		{"given", map[string]string{"DATABASE_URL": db, "DATABASE_READER_URL": "postgres://r@127.0.0.1:2/app",
			"REDIS_URL": rd, "REDIS_CLUSTER": "true"}, "postgres://r@127.0.0.1:2/app", "true"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := startServices(context.Background(), tc.host, serviceOptions{DataDir: t.TempDir(), Log: io.Discard, Declared: declared})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(s.Stop)
			if got := tc.host["DATABASE_READER_URL"]; got != tc.reader {
				t.Errorf("DATABASE_READER_URL = %q, want %q", got, tc.reader)
			}
			if got := tc.host["REDIS_CLUSTER"]; got != tc.cluster {
				t.Errorf("REDIS_CLUSTER = %q, want %q", got, tc.cluster)
			}
			if got := tc.host["DATABASE_IAM_AUTH"]; got != "false" {
				t.Errorf("DATABASE_IAM_AUTH = %q, want false", got)
			}
		})
	}
}
