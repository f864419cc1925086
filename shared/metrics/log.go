package metrics

import (
	"io"
	"log/slog"
)

// NewLogger returns the JSON logger every function uses, tagged with the function's name.
func NewLogger(w io.Writer, level slog.Level, function string) *slog.Logger {
	h := slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level})
	return slog.New(h).With("function", function)
}
