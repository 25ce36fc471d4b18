// Package luapattern matches Lua 5.1 patterns (the language of
// string.find, match, gmatch and gsub), as Lua 5.1's lstrlib.c does, with
// one addition: a check the matcher calls every CheckEvery steps, which can
// stop it.
//
// Why it is hand-written: a Lua pattern backtracks, and a pattern such as
// ".-.-.-.-b" against a few thousand bytes takes hours. gopher-lua's own
// matcher (package pm) cannot be stopped once it has started, so neither a
// --timeout nor Ctrl-C could end a script inside it. This is a line-by-line
// port of lstrlib.c's matcher (match, max_expand, min_expand, captures,
// %b, %f, back-references, the C locale's character classes), so its
// results are Lua 5.1's, not gopher-lua's where the two differ; its
// recursion is bounded ("pattern too complex", as Lua 5.2+ says) so a long
// pattern cannot exhaust the Go stack.
//
// Positions are 0-based byte offsets into the subject.
package luapattern

import (
	"errors"
	"strings"
)

// Specials are the characters that make a pattern more than plain text.
const Specials = "^$*+?.([%-"

// MaxCaptures is the most captures a pattern may have (LUA_MAXCAPTURES).
const MaxCaptures = 32

// maxDepth bounds the matcher's recursion (Lua 5.2's MAXCCALLS).
const maxDepth = 200

// CheckEvery is how many matcher steps pass between two calls of the check.
const CheckEvery = 1 << 12

const (
	capUnfinished = -1
	capPosition   = -2
)

// Error is a malformed pattern or a bad capture reference; its text is
// Lua 5.1's ("malformed pattern (missing ']')").
type Error struct{ Msg string }

func (e *Error) Error() string { return e.Msg }

// stopped carries the check's error out of the recursion.
type stopped struct{ err error }

// Capture is one capture of a match: the text src[Start:End], or, for a
// position capture "()", the position Start (Pos is true).
type Capture struct {
	Start, End int
	Pos        bool
}

// Matcher matches one pattern against one subject, as often as asked.
type Matcher struct {
	src, pat string
	check    func() error
	steps    int
	depth    int
	level    int
	capture  [MaxCaptures]struct{ init, len int }
}

// New returns a matcher of pat in src. check, when not nil, is called
// every CheckEvery steps; the error it returns stops the match and is
// returned by Match.
func New(src, pat string, check func() error) *Matcher {
	return &Matcher{src: src, pat: pat, check: check}
}

// Match tries the pattern, from its byte p on, at position s of the
// subject. It returns the end of the match, or -1 when there is none;
// the captures of a match are then Captures. An error is a malformed
// pattern (*Error) or the check's error.
func (m *Matcher) Match(s, p int) (end int, err error) {
	defer func() {
		if r := recover(); r != nil {
			switch x := r.(type) {
			case *Error:
				end, err = -1, x
			case stopped:
				end, err = -1, x.err
			default:
				panic(r)
			}
		}
	}()
	m.level, m.depth = 0, 0
	return m.match(s, p), nil
}

// Captures returns the captures of the last match found by Match at s
// ending at e: the whole match when the pattern has none (and whole is
// set, as find does not want it).
func (m *Matcher) Captures(s, e int, whole bool) ([]Capture, error) {
	n := m.level
	if n == 0 && whole {
		return []Capture{{Start: s, End: e}}, nil
	}
	caps := make([]Capture, n)
	for i := range caps {
		c, err := m.Capture(i, s, e)
		if err != nil {
			return nil, err
		}
		caps[i] = c
	}
	return caps, nil
}

// Capture returns capture i (0-based) of the last match, at s ending at e
// (push_onecapture): capture 0 of a pattern without captures is the whole
// match.
func (m *Matcher) Capture(i, s, e int) (Capture, error) {
	if i >= m.level {
		if i == 0 {
			return Capture{Start: s, End: e}, nil
		}
		return Capture{}, &Error{"invalid capture index"}
	}
	c := m.capture[i]
	switch c.len {
	case capUnfinished:
		return Capture{}, &Error{"unfinished capture"}
	case capPosition:
		return Capture{Start: c.init, Pos: true}, nil
	}
	return Capture{Start: c.init, End: c.init + c.len}, nil
}

// Levels is the number of captures of the last match.
func (m *Matcher) Levels() int { return m.level }

func (m *Matcher) fail(msg string) { panic(&Error{msg}) }

// step counts one step of the matcher and calls the check when due.
func (m *Matcher) step() {
	m.steps++
	if m.steps%CheckEvery == 0 && m.check != nil {
		if err := m.check(); err != nil {
			panic(stopped{err})
		}
	}
}

// at returns the pattern byte at p, 0 past its end (C's terminating NUL).
func (m *Matcher) at(p int) byte {
	if p < len(m.pat) {
		return m.pat[p]
	}
	return 0
}

// srcAt returns the subject byte at s, 0 past its end.
func (m *Matcher) srcAt(s int) byte {
	if s < len(m.src) {
		return m.src[s]
	}
	return 0
}

func (m *Matcher) checkCapture(l byte) int {
	i := int(l) - '1'
	if i < 0 || i >= m.level || m.capture[i].len == capUnfinished {
		m.fail("invalid capture index")
	}
	return i
}

func (m *Matcher) captureToClose() int {
	for level := m.level - 1; level >= 0; level-- {
		if m.capture[level].len == capUnfinished {
			return level
		}
	}
	m.fail("invalid pattern capture")
	return 0
}

func (m *Matcher) classEnd(p int) int {
	c := m.at(p)
	p++
	switch c {
	case '%':
		if p >= len(m.pat) {
			m.fail("malformed pattern (ends with '%')")
		}
		return p + 1
	case '[':
		if m.at(p) == '^' {
			p++
		}
		for { // look for a ']'
			if p >= len(m.pat) {
				m.fail("malformed pattern (missing ']')")
			}
			c := m.pat[p]
			p++
			if c == '%' && p < len(m.pat) {
				p++ // skip escapes (e.g. '%]')
			}
			if m.at(p) == ']' {
				break
			}
		}
		return p + 1
	}
	return p
}

// matchClass is match_class: the class letter cl (a, c, d, l, p, s, u,
// w, x, z; upper case complements) of byte c, in the C locale; any other
// cl matches itself.
func matchClass(c, cl byte) bool {
	var res bool
	switch cl | 0x20 {
	case 'a':
		res = isAlpha(c)
	case 'c':
		res = c < 32 || c == 127
	case 'd':
		res = '0' <= c && c <= '9'
	case 'l':
		res = 'a' <= c && c <= 'z'
	case 'p':
		res = isPunct(c)
	case 's':
		res = c == ' ' || ('\t' <= c && c <= '\r')
	case 'u':
		res = 'A' <= c && c <= 'Z'
	case 'w':
		res = isAlpha(c) || ('0' <= c && c <= '9')
	case 'x':
		res = ('0' <= c && c <= '9') || ('a' <= c|0x20 && c|0x20 <= 'f')
	case 'z':
		res = c == 0
	default:
		return cl == c
	}
	if isAlpha(cl) && 'a' <= cl && cl <= 'z' {
		return res
	}
	return !res
}

func isAlpha(c byte) bool { return 'a' <= c|0x20 && c|0x20 <= 'z' }

func isPunct(c byte) bool {
	return c > 32 && c < 127 && !isAlpha(c) && !('0' <= c && c <= '9')
}

// matchBracketClass matches c against the set [...] from p (its '[') to
// ec (its ']').
func (m *Matcher) matchBracketClass(c byte, p, ec int) bool {
	sig := true
	if m.at(p+1) == '^' {
		sig = false
		p++
	}
	for p++; p < ec; p++ {
		switch {
		case m.pat[p] == '%':
			p++
			if matchClass(c, m.at(p)) {
				return sig
			}
		case m.at(p+1) == '-' && p+2 < ec:
			p += 2
			if m.pat[p-2] <= c && c <= m.pat[p] {
				return sig
			}
		case m.pat[p] == c:
			return sig
		}
	}
	return !sig
}

func (m *Matcher) singleMatch(c byte, p, ep int) bool {
	switch m.at(p) {
	case '.':
		return true
	case '%':
		return matchClass(c, m.at(p+1))
	case '[':
		return m.matchBracketClass(c, p, ep-1)
	}
	return m.at(p) == c
}

func (m *Matcher) matchBalance(s, p int) int {
	if p+1 >= len(m.pat) {
		m.fail("unbalanced pattern")
	}
	if s >= len(m.src) || m.src[s] != m.pat[p] {
		return -1
	}
	b, e := m.pat[p], m.pat[p+1]
	cont := 1
	for s++; s < len(m.src); s++ {
		m.step()
		switch m.src[s] {
		case e:
			if cont--; cont == 0 {
				return s + 1
			}
		case b:
			cont++
		}
	}
	return -1
}

func (m *Matcher) maxExpand(s, p, ep int) int {
	i := 0
	for s+i < len(m.src) && m.singleMatch(m.src[s+i], p, ep) {
		m.step()
		i++
	}
	for ; i >= 0; i-- { // try with the most repetitions first
		if res := m.match(s+i, ep+1); res >= 0 {
			return res
		}
	}
	return -1
}

func (m *Matcher) minExpand(s, p, ep int) int {
	for {
		if res := m.match(s, ep+1); res >= 0 {
			return res
		}
		if s < len(m.src) && m.singleMatch(m.src[s], p, ep) {
			s++ // try with one more repetition
		} else {
			return -1
		}
	}
}

func (m *Matcher) startCapture(s, p, what int) int {
	level := m.level
	if level >= MaxCaptures {
		m.fail("too many captures")
	}
	m.capture[level].init = s
	m.capture[level].len = what
	m.level = level + 1
	res := m.match(s, p)
	if res < 0 {
		m.level-- // undo the capture
	}
	return res
}

func (m *Matcher) endCapture(s, p int) int {
	l := m.captureToClose()
	m.capture[l].len = s - m.capture[l].init
	res := m.match(s, p)
	if res < 0 {
		m.capture[l].len = capUnfinished
	}
	return res
}

func (m *Matcher) matchCapture(s int, l byte) int {
	i := m.checkCapture(l)
	n := m.capture[i].len
	init := m.capture[i].init
	if len(m.src)-s >= n && m.src[init:init+n] == m.src[s:s+n] {
		return s + n
	}
	return -1
}

// match is lstrlib's match: the end of a match of the pattern from p at
// s, or -1.
func (m *Matcher) match(s, p int) int {
	m.depth++
	if m.depth > maxDepth {
		m.fail("pattern too complex")
	}
	defer func() { m.depth-- }()
	for { // the C code's "goto init"
		m.step()
		if p >= len(m.pat) {
			return s // end of pattern: a match
		}
		switch m.pat[p] {
		case '(':
			if m.at(p+1) == ')' {
				return m.startCapture(s, p+2, capPosition)
			}
			return m.startCapture(s, p+1, capUnfinished)
		case ')':
			return m.endCapture(s, p+1)
		case '$':
			if p+1 == len(m.pat) {
				if s == len(m.src) {
					return s
				}
				return -1
			}
		case '%':
			switch c := m.at(p + 1); {
			case c == 'b':
				if s = m.matchBalance(s, p+2); s < 0 {
					return -1
				}
				p += 4
				continue
			case c == 'f':
				p += 2
				if m.at(p) != '[' {
					m.fail("missing '[' after '%f' in pattern")
				}
				ep := m.classEnd(p)
				var prev byte
				if s > 0 {
					prev = m.src[s-1]
				}
				if m.matchBracketClass(prev, p, ep-1) || !m.matchBracketClass(m.srcAt(s), p, ep-1) {
					return -1
				}
				p = ep
				continue
			case '0' <= c && c <= '9':
				if s = m.matchCapture(s, c); s < 0 {
					return -1
				}
				p += 2
				continue
			}
		}
		// A single-character class, maybe with a repetition.
		ep := m.classEnd(p)
		matched := s < len(m.src) && m.singleMatch(m.src[s], p, ep)
		switch m.at(ep) {
		case '?':
			if matched {
				if res := m.match(s+1, ep+1); res >= 0 {
					return res
				}
			}
			p = ep + 1
		case '*':
			return m.maxExpand(s, p, ep)
		case '+':
			if !matched {
				return -1
			}
			return m.maxExpand(s+1, p, ep)
		case '-':
			return m.minExpand(s, p, ep)
		default:
			if !matched {
				return -1
			}
			s++
			p = ep
		}
	}
}

// Find looks for the first match of pat in src from init (0-based,
// already clamped to 0..len(src)), as string.find and string.match do: a
// pattern starting with '^' is anchored there. It returns the match's
// start and end (-1, -1 when there is none) and leaves the matcher ready
// for Captures.
func (m *Matcher) Find(init int) (start, end int, err error) {
	p := 0
	anchor := strings.HasPrefix(m.pat, "^")
	if anchor {
		p = 1
	}
	for s := init; ; s++ {
		e, err := m.Match(s, p)
		if err != nil {
			return -1, -1, err
		}
		if e >= 0 {
			return s, e, nil
		}
		if anchor || s >= len(m.src) {
			return -1, -1, nil
		}
	}
}

// IsError reports whether err is a pattern error (not the check's).
func IsError(err error) bool {
	var pe *Error
	return errors.As(err, &pe)
}
