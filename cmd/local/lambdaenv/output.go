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
	buf    []byte // a line begun by an earlier Write, without its newline yet
	msg    []byte // the line being passed on; reused, as out may not keep what it is given
}

func newLineWriter(out io.Writer, prefix string) *lineWriter {
	return &lineWriter{out: out, prefix: []byte(prefix + " ")}
}

// Write is called by the one goroutine exec uses to copy the process's output. Whole lines in b
// are passed on from b itself; only a line that is still incomplete at the end of b is kept.
func (l *lineWriter) Write(b []byte) (int, error) {
	n := len(b)
	for {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			break
		}
		if len(l.buf) > 0 {
			l.buf = append(l.buf, b[:i]...)
			l.emit(l.buf)
			l.buf = l.buf[:0]
		} else {
			l.emit(b[:i])
		}
		b = b[i+1:]
	}
	l.buf = append(l.buf, b...)
	if len(l.buf) == 0 && cap(l.buf) > maxKeptLine {
		l.buf = nil // drop the backing array of an unusually long line
	}
	return n, nil
}

// maxKeptLine bounds the buffers a lineWriter keeps between lines.
const maxKeptLine = 64 << 10

// Flush writes a last line that has no newline.
func (l *lineWriter) Flush() {
	if len(l.buf) > 0 {
		l.emit(l.buf)
		l.buf = nil
	}
}

func (l *lineWriter) emit(line []byte) {
	l.msg = append(append(append(l.msg[:0], l.prefix...), line...), '\n')
	_, _ = l.out.Write(l.msg)
	if cap(l.msg) > maxKeptLine {
		l.msg = nil
	}
}
