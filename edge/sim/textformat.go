package sim

import (
	"math"
	"strconv"
	"strings"
)

// textFormat is how an example's field text looks.
type textFormat struct {
	example  string
	decimals int
	width    int
	pad      byte // '0', ' ' or 0
	plus     bool // explicit + sign
	signed   bool // the example allows a sign
}

func parseTextFormat(s string) textFormat {
	tf := textFormat{example: s, width: len(s)}
	t := strings.TrimLeft(s, " ")
	if len(t) < len(s) {
		tf.pad = ' '
	}
	switch {
	case strings.HasPrefix(t, "+"):
		tf.plus, tf.signed = true, true
		t = t[1:]
	case strings.HasPrefix(t, "-"):
		tf.signed = true
		t = t[1:]
	}
	if len(t) > 1 && t[0] == '0' && t[1] != '.' {
		tf.pad = '0'
	}
	if i := strings.IndexByte(t, '.'); i >= 0 {
		tf.decimals = len(t) - i - 1
	}
	return tf
}

func (tf textFormat) number(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		v = 0
	}
	if v < 0 && !tf.signed {
		v = 0
	}
	s := strconv.FormatFloat(math.Abs(v), 'f', tf.decimals, 64)
	sign := ""
	switch {
	case v < 0 && s != strconv.FormatFloat(0, 'f', tf.decimals, 64):
		sign = "-"
	case tf.plus:
		sign = "+"
	}
	n := len(sign) + len(s)
	if tf.pad == '0' && tf.decimals == 0 && n > tf.width && v >= 0 {
		// A fixed-width counter wraps, as the device's own does.
		return s[len(s)-tf.width:]
	}
	switch tf.pad {
	case '0':
		if n < tf.width {
			s = strings.Repeat("0", tf.width-n) + s
		}
	case ' ':
		if n < tf.width {
			return strings.Repeat(" ", tf.width-n) + sign + s
		}
	}
	return sign + s
}

// boolText writes a bool the way the example does (1/0, true/false,
// Y/N, ON/OFF), keeping its case.
func (tf textFormat) boolText(b bool) string {
	pairs := [][2]string{{"1", "0"}, {"true", "false"}, {"y", "n"}, {"yes", "no"}, {"on", "off"}, {"t", "f"}}
	ex := strings.ToLower(strings.TrimSpace(tf.example))
	for _, p := range pairs {
		if ex == p[0] || ex == p[1] {
			out := p[1]
			if b {
				out = p[0]
			}
			if strings.ToUpper(tf.example) == tf.example {
				out = strings.ToUpper(out)
			}
			return out
		}
	}
	if b {
		return "1"
	}
	return "0"
}
