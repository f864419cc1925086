package report

import (
	"fmt"
	"html"
	"io"
	"math"
	"strings"
)

// The percentiles charted, with their colours.
var percentiles = []struct {
	name  string
	color string
	value func(Latency) float64
}{
	{"p50", "#4e79a7", func(l Latency) float64 { return l.P50 }},
	{"p90", "#59a14f", func(l Latency) float64 { return l.P90 }},
	{"p99", "#f28e2b", func(l Latency) float64 { return l.P99 }},
	{"p99.9", "#e15759", func(l Latency) float64 { return l.P999 }},
}

// WriteSVG draws two charts, one above the other: the latency percentiles of every scenario as
// grouped bars on a logarithmic scale, and every scenario's successful requests per second as
// bars, with the aim (dashed) and the seed's figure (dotted) marked where there is one.
// Plain SVG 1.1, no scripts or fonts to fetch: it opens in any browser or image viewer.
func (r *Report) WriteSVG(w io.Writer) error {
	var ss []*Scenario
	for _, s := range r.Scenarios {
		if s.Skipped == "" && s.Requests > 0 {
			ss = append(ss, s)
		}
	}
	const (
		left, right, top = 80.0, 30.0, 60.0
		panelH           = 300.0
		gap              = 150.0 // room for the rotated scenario names under each panel
		groupW           = 64.0
	)
	width := left + right + groupW*float64(max(len(ss), 1))
	height := top + panelH + gap + 40 + panelH + gap
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f" font-family="sans-serif" font-size="11">`+"\n", width, height, width, height)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	m := r.Machine
	fmt.Fprintf(&b, `<text x="%.0f" y="20" font-size="15" font-weight="bold">scaleapi make bench — latency percentiles by scenario (ms, log scale)</text>`+"\n", left)
	fmt.Fprintf(&b, `<text x="%.0f" y="38" fill="#555">%s, %d cores, %s · %s</text>`+"\n", left, esc(m.CPU), m.Cores, esc(m.Go), r.Started.UTC().Format("2006-01-02 15:04 MST"))

	// Panel 1: latency, log scale over whole decades around the data.
	lo, hi := math.Inf(1), 0.0
	for _, s := range ss {
		for _, p := range percentiles {
			if v := p.value(s.Latency); v > 0 {
				lo, hi = math.Min(lo, v), math.Max(hi, v)
			}
		}
	}
	if hi == 0 {
		lo, hi = 0.1, 1
	}
	dlo, dhi := math.Floor(math.Log10(lo)), math.Ceil(math.Log10(hi))
	if dhi <= dlo {
		dhi = dlo + 1
	}
	y0 := top + panelH
	ly := func(v float64) float64 {
		if v <= 0 {
			return y0
		}
		return y0 - (math.Log10(v)-dlo)/(dhi-dlo)*panelH
	}
	for d := dlo; d <= dhi; d++ {
		v := math.Pow(10, d)
		y := ly(v)
		fmt.Fprintf(&b, `<line x1="%.0f" x2="%.0f" y1="%.1f" y2="%.1f" stroke="#ddd"/>`+"\n", left, width-right, y, y)
		fmt.Fprintf(&b, `<text x="%.0f" y="%.1f" text-anchor="end">%s</text>`+"\n", left-6, y+4, trim(v))
	}
	// The latency targets, as dashed lines across the chart.
	for _, ref := range []struct {
		ms    float64
		label string
	}{{2, "design: cached p50 < 2"}, {10, "design: read p99 < 10"}, {25, "design: write p99 < 25"}, {50, "seed: p50 < 50"}, {200, "seed: p99 < 200"}} {
		if math.Log10(ref.ms) < dlo || math.Log10(ref.ms) > dhi {
			continue
		}
		y := ly(ref.ms)
		fmt.Fprintf(&b, `<line x1="%.0f" x2="%.0f" y1="%.1f" y2="%.1f" stroke="#999" stroke-dasharray="4,4"/>`+"\n", left, width-right, y, y)
		fmt.Fprintf(&b, `<text x="%.0f" y="%.1f" text-anchor="end" fill="#777" font-size="9">%s ms</text>`+"\n", width-right-2, y-2, esc(ref.label))
	}
	for i, p := range percentiles {
		x := left + float64(i)*70
		fmt.Fprintf(&b, `<rect x="%.0f" y="%.0f" width="10" height="10" fill="%s"/><text x="%.0f" y="%.0f">%s</text>`+"\n", x, top-14, p.color, x+14, top-5, p.name)
	}
	barW := (groupW - 12) / float64(len(percentiles))
	for i, s := range ss {
		gx := left + float64(i)*groupW + 6
		for j, p := range percentiles {
			v := p.value(s.Latency)
			y := ly(v)
			fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s %s: %s ms</title></rect>`+"\n",
				gx+float64(j)*barW, y, barW-1, y0-y, p.color, esc(s.Name), p.name, trim(v))
		}
		label(&b, gx+groupW/2-6, y0+12, s.Name)
	}
	fmt.Fprintf(&b, `<line x1="%.0f" x2="%.0f" y1="%.0f" y2="%.0f" stroke="#333"/>`+"\n", left, width-right, y0, y0)

	// Panel 2: throughput, linear.
	top2 := y0 + gap + 40
	y1 := top2 + panelH
	fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" font-size="15" font-weight="bold">successful requests per second (dashed: issue 5's aim, dotted: the seed's NestJS figure)</text>`+"\n", left, top2-20)
	ceil := 0.0
	for _, s := range ss {
		ceil = math.Max(ceil, s.OKRPS)
		ceil = math.Max(ceil, s.Aim)
		if s.Seed != nil {
			ceil = math.Max(ceil, s.Seed.RPS)
		}
	}
	step := niceStep(ceil / 5)
	ceil = math.Max(step, math.Ceil(ceil/step)*step)
	yy := func(v float64) float64 { return y1 - v/ceil*panelH }
	for v := 0.0; v <= ceil+step/2; v += step {
		y := yy(v)
		fmt.Fprintf(&b, `<line x1="%.0f" x2="%.0f" y1="%.1f" y2="%.1f" stroke="#ddd"/>`+"\n", left, width-right, y, y)
		fmt.Fprintf(&b, `<text x="%.0f" y="%.1f" text-anchor="end">%.0f</text>`+"\n", left-6, y+4, v)
	}
	for i, s := range ss {
		gx := left + float64(i)*groupW + 6
		bw := groupW - 12
		y := yy(s.OKRPS)
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="#76b7b2"><title>%s: %.0f ok req/s</title></rect>`+"\n", gx, y, bw, y1-y, esc(s.Name), s.OKRPS)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle" font-size="10">%.0f</text>`+"\n", gx+bw/2, y-3, s.OKRPS)
		if s.Aim > 0 {
			ya := yy(s.Aim)
			fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="#e15759" stroke-width="2" stroke-dasharray="5,3"><title>aim %.0f/s</title></line>`+"\n", gx-3, gx+bw+3, ya, ya, s.Aim)
		}
		if s.Seed != nil {
			ys := yy(s.Seed.RPS)
			fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="#333" stroke-width="2" stroke-dasharray="2,2"><title>seed %.0f/s</title></line>`+"\n", gx-3, gx+bw+3, ys, ys, s.Seed.RPS)
		}
		label(&b, gx+bw/2, y1+12, s.Name)
	}
	fmt.Fprintf(&b, `<line x1="%.0f" x2="%.0f" y1="%.0f" y2="%.0f" stroke="#333"/>`+"\n", left, width-right, y1, y1)
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// label writes a scenario name rotated under its bars.
func label(b *strings.Builder, x, y float64, s string) {
	fmt.Fprintf(b, `<text transform="translate(%.1f,%.1f) rotate(45)">%s</text>`+"\n", x, y, esc(s))
}

func esc(s string) string { return html.EscapeString(s) }

func trim(v float64) string {
	switch {
	case v >= 10:
		return fmt.Sprintf("%.0f", v)
	case v >= 1:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.2g", v)
}

// niceStep rounds a raw step up to 1, 2 or 5 times a power of ten.
func niceStep(raw float64) float64 {
	if raw <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= raw {
			return m * p
		}
	}
	return 10 * p
}
