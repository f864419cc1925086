package main

import (
	"context"
	"net/url"
)

// services are the backing services the functions use, as the banner shows them.
type services struct {
	Database string
	Redis    string
	stops    []func()
}

// startServices is where the embedded defaults plug in: it makes sure DATABASE_URL and
// REDIS_URL are set in host before the gateway composes the functions' environments from it.
//
// Not implemented yet (issue 4, item 2): without DATABASE_URL, start a private PostgreSQL from
// the machine's binaries with its data under .local/, migrate it and set host["DATABASE_URL"];
// without REDIS_URL, start miniredis in this process and set host["REDIS_URL"]; register each
// one's shutdown with s.stops. Values set in host reach every function whose template
// environment declares the variable (gateway.FunctionEnv); an -env-vars file still overrides
// them.
func startServices(ctx context.Context, host map[string]string) (*services, error) {
	s := &services{
		Database: describe(host["DATABASE_URL"], "DATABASE_URL not set (no embedded PostgreSQL yet)"),
		Redis:    describe(host["REDIS_URL"], "REDIS_URL not set (no embedded Redis yet)"),
	}
	return s, nil
}

// Banner returns the banner's lines about the services.
func (s *services) Banner() []string {
	return []string{"Database: " + s.Database, "Redis:    " + s.Redis}
}

// Stop stops the services started here, last started first.
func (s *services) Stop() {
	for i := len(s.stops) - 1; i >= 0; i-- {
		s.stops[i]()
	}
}

// describe shows a connection URL without its password.
func describe(raw, unset string) string {
	if raw == "" {
		return unset
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}
