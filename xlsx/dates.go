package xlsx

import (
	"fmt"
	"strings"

	"github.com/xuri/excelize/v2"
	"github.com/xuri/nfp"
)

// DateLayout is how a date or date-time cell reads, in Excel's format codes
// ("yyyy-MM-dd HH:mm:ss" in the Lua time module's terms).
const DateLayout = "yyyy-mm-dd hh:mm:ss"

// dateFormat is DateLayout as the number format given to excelize. The
// locale tag (en-US, no names in this layout) changes nothing shown; it
// spares excelize a search of every locale it knows for each date cell,
// which made dates 20 times slower to read than numbers.
const dateFormat = "[$-409]" + DateLayout

// datesAsISO makes every cell style whose number format shows a date read
// as DateLayout, by pointing those styles at a number format with that
// code in the opened workbook's in-memory style sheet (never saved).
//
// Hand-written because excelize's row stream formats each cell by its style
// but does not hand out the style, and its date options (ShortDatePattern
// and the like) only reach the built-in formats 14, 22 and a few more; a
// custom format such as yyyy/m/d or m"月"d"日" would still read its own way.
func datesAsISO(f *excelize.File) error {
	ss := f.Styles
	if ss == nil || ss.CellXfs == nil {
		return nil
	}
	var dated []int
	for i, xf := range ss.CellXfs.Xf {
		if xf.NumFmtID != nil && isDateFormat(f, *xf.NumFmtID) {
			dated = append(dated, i)
		}
	}
	if len(dated) == 0 {
		return nil
	}
	layout := dateFormat
	id, err := f.NewStyle(&excelize.Style{CustomNumFmt: &layout})
	if err != nil {
		return fmt.Errorf("reading its date formats: %v", err)
	}
	numFmt := *ss.CellXfs.Xf[id].NumFmtID
	for _, i := range dated {
		ss.CellXfs.Xf[i].NumFmtID = &numFmt
	}
	return nil
}

// Built-in number formats with a date part: ECMA-376 18.8.30 (14-17, 22)
// and the zh-CN/ja-JP/ko-KR ones (27-31, 36, 50-54, 57, 58). The others up
// to 58 are numbers, text, times of day or durations.
var builtinDates = map[int]bool{
	14: true, 15: true, 16: true, 17: true, 22: true,
	27: true, 28: true, 29: true, 30: true, 31: true, 36: true,
	50: true, 51: true, 52: true, 53: true, 54: true, 57: true, 58: true,
}

// isDateFormat reports whether number format id shows a date.
func isDateFormat(f *excelize.File, id int) bool {
	if builtinDates[id] {
		return true
	}
	ss := f.Styles
	if ss.NumFmts == nil {
		return false
	}
	for _, nf := range ss.NumFmts.NumFmt {
		if nf.NumFmtID == id {
			code := nf.FormatCode
			if nf.FormatCode16 != "" {
				code = nf.FormatCode16
			}
			return hasDatePart(code)
		}
	}
	return false
}

// hasDatePart reports whether a format code's first section shows a year,
// month or day (an "m" is a month unless the section has hours or seconds,
// as Excel reads it next to them). Parsing is nfp's, excelize's own format
// parser, so quoted text, colours and locale tags do not count.
func hasDatePart(code string) bool {
	p := nfp.NumberFormatParser()
	sections := p.Parse(code)
	if len(sections) == 0 {
		return false
	}
	var month, clock bool
	for _, t := range sections[0].Items {
		if t.TType != nfp.TokenTypeDateTimes {
			continue
		}
		switch strings.ToLower(t.TValue)[0] {
		case 'y', 'd', 'e', 'g', 'b':
			return true
		case 'm':
			month = true
		case 'h', 's':
			clock = true
		}
	}
	return month && !clock
}
