package lambdaenv

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/google/uuid"
)

// writes records each Write it gets as a string of its own.
type writes []string

func (w *writes) Write(b []byte) (int, error) {
	*w = append(*w, string(b))
	return len(b), nil
}

func TestLineWriter(t *testing.T) {
	var got writes
	l := newLineWriter(&got, "F[1]")
	long := strings.Repeat("x", 100<<10) // longer than the buffers a lineWriter keeps
	for _, chunk := range []string{
		"one\n", "two\nthree\n", "fo", "u", "r\nfive", "\n", "\n", long[:10], long[10:] + "\nsix\n", "seven",
	} {
		if n, err := l.Write([]byte(chunk)); n != len(chunk) || err != nil {
			t.Fatalf("Write(%q) = %d, %v", chunk, n, err)
		}
	}
	l.Flush()
	want := writes{"F[1] one\n", "F[1] two\n", "F[1] three\n", "F[1] four\n", "F[1] five\n", "F[1] \n",
		"F[1] " + long + "\n", "F[1] six\n", "F[1] seven\n"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %d writes, want %d:\n%.200q\n%.200q", len(got), len(want), got, want)
	}
}

// TestIDs checks the ids built by hand against the formats they replace: fmt's for the trace
// header, google/uuid's for request ids.
func TestIDs(t *testing.T) {
	for _, sec := range []int64{0, 1, 15, 16, 0xfffffff, 0x10000000, 0xffffffff, 0x100000000, time.Now().Unix()} {
		got := traceID(time.Unix(sec, 0))
		var root, parent string
		if _, err := fmt.Sscanf(strings.NewReplacer("-", " ", ";", " ").Replace(got), "Root=1 %x %s Parent=%s Sampled=0", new(int64), &root, &parent); err != nil {
			t.Fatalf("%q: %v", got, err)
		}
		b, _ := hex.DecodeString(root + parent)
		want := fmt.Sprintf("Root=1-%08x-%s;Parent=%s;Sampled=0", sec, hex.EncodeToString(b[:12]), hex.EncodeToString(b[12:]))
		if len(b) != 20 || got != want {
			t.Errorf("traceID at %d = %q, want %q", sec, got, want)
		}
	}
	seen := map[string]bool{}
	for range 100 {
		id := newUUID()
		u, err := uuid.Parse(id)
		if err != nil || u.Version() != 4 || u.Variant() != uuid.RFC4122 || u.String() != id || seen[id] {
			t.Fatalf("newUUID() = %q: %v, version %v, variant %v", id, err, u.Version(), u.Variant())
		}
		seen[id] = true
	}
}

// TestReadResponse compares readResponse with the io.ReadAll(io.LimitReader(...)) it stands for,
// around the sizes where it grows its buffer and where a response becomes too large.
func TestReadResponse(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789abcdef"), (maxResponse+4096)/16)
	for _, n := range []int{0, 1, 511, 512, 16 << 10, 16<<10 + 1, 300 << 10, maxResponse, maxResponse + 1, maxResponse + 2, len(data)} {
		for _, half := range []bool{false, true} {
			reader := func() io.Reader {
				if half {
					return iotest.HalfReader(bytes.NewReader(data[:n]))
				}
				return bytes.NewReader(data[:n])
			}
			got, err := readResponse(reader())
			want, _ := io.ReadAll(io.LimitReader(reader(), maxResponse+1))
			if err != nil || !bytes.Equal(got, want) || got == nil {
				t.Errorf("%d bytes (half reads %v): got %d bytes, %v; want %d", n, half, len(got), err, len(want))
			}
		}
	}
	boom := errors.New("boom")
	if _, err := readResponse(io.MultiReader(bytes.NewReader(data[:100]), iotest.ErrReader(boom))); err != boom {
		t.Errorf("a read error gave %v", err)
	}
}
