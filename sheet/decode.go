package sheet

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/transform"
)

// Encoding is the text encoding of a file, as asked for or as found.
type Encoding string

// Encodings. A byte-order mark always wins over what was asked for.
const (
	Auto    Encoding = "auto"     // decide from the whole file: see Decode
	UTF8    Encoding = "utf-8"    // with or without a BOM
	GB18030 Encoding = "gb18030"  // a superset of GBK and GB2312: what Excel in China writes
	UTF16LE Encoding = "utf-16le" // found by its BOM: 淘宝助理 exports, Excel's "Unicode text"
	UTF16BE Encoding = "utf-16be" // found by its BOM
)

// ParseEncoding reads an encoding option: "auto" (or ""), "utf-8"/"utf8",
// or "gbk"/"gb18030"/"gb2312" (all read as GB18030). Case does not matter.
func ParseEncoding(s string) (Encoding, error) {
	switch strings.ToLower(s) {
	case "", "auto":
		return Auto, nil
	case "utf-8", "utf8":
		return UTF8, nil
	case "gbk", "gb18030", "gb2312":
		return GB18030, nil
	}
	return "", fmt.Errorf("unknown encoding %q (want \"auto\", \"utf-8\" or \"gbk\")", s)
}

// Decode reads src as text in one encoding, decided for the whole file,
// and returns a reader of its UTF-8 text and the encoding found.
//
// The rule, applied to every line of the file before any is returned:
//
//   - a byte-order mark (UTF-8, UTF-16 LE or BE) decides, whatever enc
//     says, and is dropped;
//   - else enc decides, when it is UTF8 or GB18030;
//   - else (Auto) the file is UTF-8 when every line is valid UTF-8; GB18030
//     when the lines that are not valid UTF-8 outnumber the lines that are
//     and hold non-ASCII text (text in GBK is rarely valid UTF-8, line
//     after line); otherwise the file mixes encodings (say, a Latin-1 row
//     pasted into a UTF-8 file), and that is an error naming the first line
//     that is not UTF-8 — decoding such a file as GB18030 would garble its
//     UTF-8 text (复古围巾 → 澶嶅彜鍥村肪).
//
// Bytes that are not valid in the encoding decided are an error naming
// their line (an *Error without Path: the caller names the file), never
// replaced by U+FFFD. For GB18030 and UTF-16 the whole file is checked
// here, so no row of a file that will be refused is handed out; UTF-8
// chosen by a BOM or by enc is checked as it is read, where the CSV
// reader names the line and column (every line of Auto's UTF-8 is valid).
//
// src is read twice when it is an io.Seeker (a file), else read into
// memory once.
func Decode(src io.Reader, enc Encoding) (io.Reader, Encoding, error) {
	rs, ok := src.(io.ReadSeeker)
	if !ok {
		data, err := io.ReadAll(src)
		if err != nil {
			return nil, "", err
		}
		rs = bytes.NewReader(data)
	}
	start, err := rs.Seek(0, io.SeekCurrent)
	if err != nil {
		return nil, "", err
	}
	found, err := scan(rs, enc)
	if err != nil {
		return nil, "", err
	}
	if _, err := rs.Seek(start, io.SeekStart); err != nil {
		return nil, "", err
	}
	br := bufio.NewReaderSize(rs, 64<<10)
	switch found {
	case UTF8:
		if head, _ := br.Peek(3); bytes.HasPrefix(head, utf8BOM) {
			br.Discard(3)
		}
		return br, UTF8, nil
	case UTF16LE:
		return transform.NewReader(br, unicode.UTF16(unicode.LittleEndian, unicode.UseBOM).NewDecoder()), UTF16LE, nil
	case UTF16BE:
		return transform.NewReader(br, unicode.UTF16(unicode.BigEndian, unicode.UseBOM).NewDecoder()), UTF16BE, nil
	}
	return transform.NewReader(br, simplifiedchinese.GB18030.NewDecoder()), GB18030, nil
}

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// scan reads the whole of r and returns the encoding Decode's rule
// decides, or an *Error naming the first line that is invalid in it.
func scan(r io.Reader, enc Encoding) (Encoding, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	head, _ := br.Peek(3)
	switch {
	case bytes.HasPrefix(head, utf8BOM):
		return UTF8, nil // checked as it is read (checkUTF8)
	case bytes.HasPrefix(head, []byte{0xFF, 0xFE}):
		br.Discard(2)
		return UTF16LE, scanUTF16(br, false)
	case bytes.HasPrefix(head, []byte{0xFE, 0xFF}):
		br.Discard(2)
		return UTF16BE, scanUTF16(br, true)
	case enc == UTF8:
		return UTF8, nil // checked as it is read (checkUTF8)
	}
	var (
		line                  int
		utf8Lines, otherLines int // non-ASCII lines valid in UTF-8, lines that are not
		firstOther, firstBad  int // the first line not UTF-8, the first not GB18030
		firstBadUTF8          bool
	)
	for {
		raw, err := readLine(br)
		if len(raw) > 0 {
			line++
			if !isASCII(raw) {
				isUTF8 := utf8.Valid(raw)
				if isUTF8 {
					utf8Lines++
				} else {
					otherLines++
					if firstOther == 0 {
						firstOther = line
					}
				}
				if firstBad == 0 && !validGB18030(raw) {
					firstBad, firstBadUTF8 = line, isUTF8
				}
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", err
		}
	}
	if enc == GB18030 {
		if firstBad > 0 {
			return "", &Error{Line: firstBad, Err: errors.New("bytes that are not valid GBK/GB18030 (the encoding asked for): fix this line, or re-save the file in one encoding")}
		}
		return GB18030, nil
	}
	switch {
	case otherLines == 0:
		return UTF8, nil
	case otherLines <= utf8Lines:
		return "", &Error{Line: firstOther, Err: fmt.Errorf("not valid UTF-8, though %d other lines with non-ASCII text are: "+
			"the file mixes encodings; fix this line (re-save the file as UTF-8), or read the file with {encoding = \"gbk\"} if it is GBK", utf8Lines)}
	case firstBad > 0 && !firstBadUTF8:
		return "", &Error{Line: firstBad, Err: errors.New("neither valid UTF-8 nor valid GBK/GB18030: fix this line, or re-save the file as UTF-8")}
	case firstBad > 0:
		return "", &Error{Line: firstBad, Err: errors.New("not valid GBK/GB18030, though most lines of the file are GBK (this one is UTF-8): " +
			"the file mixes encodings; re-save it in one encoding")}
	}
	return GB18030, nil
}

// readLine returns the next line of br with its newline, however long.
func readLine(br *bufio.Reader) ([]byte, error) {
	b, err := br.ReadSlice('\n')
	if err != bufio.ErrBufferFull {
		return b, err
	}
	long := append([]byte{}, b...)
	for err == bufio.ErrBufferFull {
		b, err = br.ReadSlice('\n')
		long = append(long, b...)
	}
	return long, err
}

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// gbReplacement is U+FFFD in GB18030: a file may hold it on purpose.
var gbReplacement = []byte{0x84, 0x31, 0xA4, 0x37}

// validGB18030 reports whether b decodes as GB18030 without a byte the
// decoder has to replace: x/text's decoder turns invalid bytes into U+FFFD
// silently, so the replacement characters out must be those encoded in.
// (A newline byte is never part of a multi-byte GB18030 character, so a
// line is a unit of its own.)
func validGB18030(b []byte) bool {
	out, err := simplifiedchinese.GB18030.NewDecoder().Bytes(b)
	if err != nil {
		return false
	}
	return bytes.Count(out, []byte("\uFFFD")) == bytes.Count(b, gbReplacement)
}

// scanUTF16 checks that what follows a UTF-16 BOM is whole code units with
// every surrogate paired, naming the line of the first that is not. It is
// written here because x/text's and the standard library's UTF-16
// decoders replace an unpaired surrogate with U+FFFD without saying so.
func scanUTF16(br *bufio.Reader, bigEndian bool) error {
	line := 1
	pendingHigh := false
	for {
		b0, err := br.ReadByte()
		if err == io.EOF {
			if pendingHigh {
				return &Error{Line: line, Err: errors.New("a UTF-16 surrogate without its pair at the end of the file")}
			}
			return nil
		}
		if err != nil {
			return err
		}
		b1, err := br.ReadByte()
		if err == io.EOF {
			return &Error{Line: line, Err: errors.New("the file ends in half a UTF-16 character (an odd number of bytes)")}
		}
		if err != nil {
			return err
		}
		u := uint16(b0) | uint16(b1)<<8
		if bigEndian {
			u = uint16(b0)<<8 | uint16(b1)
		}
		switch {
		case u >= 0xD800 && u < 0xDC00: // high surrogate
			if pendingHigh {
				return &Error{Line: line, Err: errors.New("a UTF-16 surrogate without its pair (not valid UTF-16)")}
			}
			pendingHigh = true
		case u >= 0xDC00 && u < 0xE000: // low surrogate
			if !pendingHigh {
				return &Error{Line: line, Err: errors.New("a UTF-16 surrogate without its pair (not valid UTF-16)")}
			}
			pendingHigh = false
		default:
			if pendingHigh {
				return &Error{Line: line, Err: errors.New("a UTF-16 surrogate without its pair (not valid UTF-16)")}
			}
			if u == '\n' {
				line++
			}
		}
	}
}
