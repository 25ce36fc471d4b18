package sheet

import "regexp"

// Formulaic reports whether a spreadsheet would take s as a formula when
// it is typed, pasted or imported from CSV: s starts with = + - or @, or
// with a tab or carriage return (which some import paths strip before the
// formula character). A plain number ("-5", "+8613800000000", "-1.5e3")
// is not formulaic: it cannot run anything, and a report keeps it as is.
func Formulaic(s string) bool {
	if s == "" {
		return false
	}
	switch s[0] {
	case '=', '@', '\t', '\r':
		return true
	case '+', '-':
		return !plainNumber.MatchString(s)
	}
	return false
}

var plainNumber = regexp.MustCompile(`^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$`)

// Neutralise returns s safe for a cell of a CSV report: a formulaic s gets
// a leading single quote, which spreadsheets show as text rather than run
// (the defence OWASP describes for CSV injection); any other s comes back
// unchanged. Workbooks need no change to the value: the xlsx writer marks
// such cells as text instead.
func Neutralise(s string) string {
	if Formulaic(s) {
		return "'" + s
	}
	return s
}
