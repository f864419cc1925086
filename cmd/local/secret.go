package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
)

// errSecretTooShort is returned for a signing key file that was edited down below what the
// functions accept.
var errSecretTooShort = errors.New("shorter than the 32 bytes the functions require")

// signingSecret returns the JWT signing key kept in path, creating it on the first run: 32 random
// bytes, hex-encoded (64 bytes, above the functions' 32-byte minimum). Keeping it means access
// tokens issued before a restart still verify after it.
func signingSecret(path string) (string, error) {
	b, err := os.ReadFile(path) // #nosec G304 -- <-data-dir>/jwt-secret, the developer's own
	if err == nil {
		secret := strings.TrimSpace(string(b))
		if len(secret) < 32 {
			return "", fmt.Errorf("%s: %w: remove the file to get a new key", path, errSecretTooShort)
		}
		return secret, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("jwt secret: %w", err)
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", fmt.Errorf("jwt secret: %w", err)
	}
	secret := hex.EncodeToString(raw)
	// O_EXCL: if another run created the file meanwhile, use its key rather than overwrite it and
	// invalidate the tokens that run has issued.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600) // #nosec G304 -- the same file
	if errors.Is(err, os.ErrExist) {
		return signingSecret(path)
	}
	if err != nil {
		return "", fmt.Errorf("jwt secret: %w", err)
	}
	if _, err := f.WriteString(secret + "\n"); err != nil {
		_ = f.Close() // the write's error is the one to report
		return "", fmt.Errorf("jwt secret: %w", err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("jwt secret: %w", err)
	}
	return secret, nil
}
