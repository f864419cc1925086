package report

import (
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// grid is a text table whose first column is aligned left and the others right, which
// text/tabwriter cannot mix.
type grid struct {
	rows  [][]string
	left  int // how many leading columns are aligned left
	inset string
}

func (g *grid) add(cells ...string) { g.rows = append(g.rows, cells) }

func (g *grid) write(w io.Writer) {
	var width []int
	for _, r := range g.rows {
		for i, c := range r {
			if i >= len(width) {
				width = append(width, 0)
			}
			width[i] = max(width[i], utf8.RuneCountInString(c))
		}
	}
	for _, r := range g.rows {
		var b strings.Builder
		b.WriteString(g.inset)
		for i, c := range r {
			pad := strings.Repeat(" ", width[i]-utf8.RuneCountInString(c))
			if i > 0 {
				b.WriteString("  ")
			}
			if i < g.left {
				b.WriteString(c + pad)
			} else {
				b.WriteString(pad + c)
			}
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
	}
}
