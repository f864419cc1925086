package auth

import (
	"errors"
	"strings"
	"testing"
)

func TestPasswords(t *testing.T) {
	pw, err := NewPasswords(DefaultParams)
	if err != nil {
		t.Fatal(err)
	}
	h, err := pw.Hash("correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	t.Run("PHCFormat", func(t *testing.T) {
		if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
			t.Fatalf("hash %q is not argon2id PHC with the default parameters", h)
		}
	})
	t.Run("Matches", func(t *testing.T) {
		ok, err := pw.Verify(h, "correct horse battery staple")
		if err != nil || !ok {
			t.Fatalf("Verify = %v, %v; want true", ok, err)
		}
	})
	t.Run("WrongPassword", func(t *testing.T) {
		ok, err := pw.Verify(h, "correct horse battery stapler")
		if err != nil || ok {
			t.Fatalf("Verify = %v, %v; want false", ok, err)
		}
	})
	t.Run("SaltPerHash", func(t *testing.T) {
		h2, _ := pw.Hash("correct horse battery staple")
		if h2 == h {
			t.Fatal("two hashes of one password are equal: salt is not random")
		}
	})
	t.Run("TooLong", func(t *testing.T) {
		if _, err := pw.Hash(strings.Repeat("x", MaxPasswordBytes+1)); err == nil {
			t.Fatal("Hash accepted an over-long password")
		}
		ok, err := pw.Verify(h, strings.Repeat("x", MaxPasswordBytes+1))
		if err != nil || ok {
			t.Fatalf("Verify = %v, %v; want false", ok, err)
		}
	})
	t.Run("NoRehash", func(t *testing.T) {
		if pw.NeedsRehash(h) {
			t.Fatal("a fresh hash needs rehash")
		}
	})
	t.Run("RehashAfterParamsChange", func(t *testing.T) {
		stronger := DefaultParams
		stronger.Time = 3
		pw2, err := NewPasswords(stronger)
		if err != nil {
			t.Fatal(err)
		}
		if !pw2.NeedsRehash(h) {
			t.Fatal("a hash with old parameters does not need rehash")
		}
		// The old hash still verifies: parameters are read from the hash, not from pw2.
		if ok, err := pw2.Verify(h, "correct horse battery staple"); !ok || err != nil {
			t.Fatalf("Verify with other parameters = %v, %v", ok, err)
		}
		// Its dummy is computed with its own parameters.
		if pw2.NeedsRehash(pw2.dummy) {
			t.Fatal("dummy hash does not use the instance's parameters")
		}
	})
}

func TestDefaultDummyHashMatchesDefaultParams(t *testing.T) {
	pw, _ := NewPasswords(DefaultParams)
	if pw.NeedsRehash(defaultDummyHash) {
		t.Fatal("defaultDummyHash was made with other parameters than DefaultParams: regenerate it, " +
			"or unknown-email logins will take a different time than wrong-password ones")
	}
	pw.VerifyDummy("anything")
}

func TestVerifyMalformed(t *testing.T) {
	pw, _ := NewPasswords(DefaultParams)
	good, _ := pw.Hash("password1")
	cases := map[string]string{
		"Empty":        "",
		"Bcrypt":       "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy",
		"Argon2i":      strings.Replace(good, "argon2id", "argon2i", 1),
		"OldVersion":   strings.Replace(good, "v=19", "v=16", 1),
		"HugeMemory":   strings.Replace(good, "m=19456", "m=4194304", 1),
		"HugeTime":     strings.Replace(good, "t=2", "t=1000", 1),
		"ZeroThreads":  strings.Replace(good, "p=1", "p=0", 1),
		"BadSalt":      good[:strings.LastIndex(good, "$")-2] + "!!" + good[strings.LastIndex(good, "$"):],
		"MissingField": good[:strings.LastIndex(good, "$")],
	}
	for name, h := range cases {
		t.Run(name, func(t *testing.T) {
			ok, err := pw.Verify(h, "password1")
			if ok || !errors.Is(err, ErrMalformedHash) {
				t.Fatalf("Verify(%q) = %v, %v; want false, ErrMalformedHash", h, ok, err)
			}
			if !pw.NeedsRehash(h) {
				t.Fatal("a malformed hash does not need rehash")
			}
		})
	}
}

func TestNewPasswordsRejectsWeakParams(t *testing.T) {
	weak := DefaultParams
	weak.SaltLen = 8
	if _, err := NewPasswords(weak); err == nil {
		t.Fatal("an 8-byte salt was accepted")
	}
}

// BenchmarkHashPassword measures one argon2id hash with DefaultParams: the cost a login pays.
func BenchmarkHashPassword(b *testing.B) {
	pw, _ := NewPasswords(DefaultParams)
	for b.Loop() {
		if _, err := pw.Hash("correct horse battery staple"); err != nil {
			b.Fatal(err)
		}
	}
}
