package lambdaenv

import (
	"bytes"
	"io"
)

// lineWriter prefixes each line a process writes and passes it on in a single Write, so lines of
// concurrent instances never interleave mid-line.
type lineWriter struct {
	out    io.Writer
	prefix []byte
	buf    []byte
}

func newLineWriter(out io.Writer, prefix string) *lineWriter {
	return &lineWriter{out: out, prefix: []byte(prefix + " ")}
}

// Write is called by the one goroutine exec uses to copy the process's output.
func (l *lineWriter) Write(b []byte) (int, error) {
	l.buf = append(l.buf, b...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			break
		}
		l.emit(l.buf[:i])
		l.buf = l.buf[i+1:]
	}
	if len(l.buf) == 0 {
		l.buf = nil // drop the consumed backing array
	}
	return len(b), nil
}

// Flush writes a last line that has no newline.
func (l *lineWriter) Flush() {
	if len(l.buf) > 0 {
		l.emit(l.buf)
		l.buf = nil
	}
}

func (l *lineWriter) emit(line []byte) {
	msg := make([]byte, 0, len(l.prefix)+len(line)+1)
	msg = append(append(append(msg, l.prefix...), line...), '\n')
	_, _ = l.out.Write(msg)
}
