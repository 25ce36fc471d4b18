package sheet

import (
	"bufio"
	"bytes"
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
	Auto    Encoding = "auto"     // detect: BOM, else UTF-8 when the bytes are, else GB18030
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

// Decode wraps r so that it yields UTF-8. A byte-order mark (UTF-8, UTF-16
// LE or BE) decides the encoding whatever enc says, and is dropped; else enc
// does. With Auto, ASCII passes through until the first non-ASCII byte, and
// the 64 KiB from there decide: UTF-8 when they are valid UTF-8, GB18030
// otherwise. The Encoding returned is the one found: Auto when that is only
// decided while reading.
func Decode(r io.Reader, enc Encoding) (io.Reader, Encoding) {
	br := bufio.NewReaderSize(r, 64<<10)
	head, _ := br.Peek(3)
	switch {
	case bytes.HasPrefix(head, []byte{0xEF, 0xBB, 0xBF}):
		br.Discard(3)
		return br, UTF8
	case bytes.HasPrefix(head, []byte{0xFF, 0xFE}):
		return transform.NewReader(br, unicode.UTF16(unicode.LittleEndian, unicode.UseBOM).NewDecoder()), UTF16LE
	case bytes.HasPrefix(head, []byte{0xFE, 0xFF}):
		return transform.NewReader(br, unicode.UTF16(unicode.BigEndian, unicode.UseBOM).NewDecoder()), UTF16BE
	}
	switch enc {
	case UTF8:
		return br, UTF8
	case GB18030:
		return transform.NewReader(br, simplifiedchinese.GB18030.NewDecoder()), GB18030
	}
	return &autoReader{br: br}, Auto
}

// autoReader passes ASCII through until the first non-ASCII byte, then
// decides the encoding from what follows: UTF-8 when the buffered bytes are
// valid UTF-8, GB18030 (a superset of GBK) otherwise.
type autoReader struct {
	br *bufio.Reader
	r  io.Reader // set once decided
}

func (a *autoReader) Read(p []byte) (int, error) {
	if a.r != nil {
		return a.r.Read(p)
	}
	if len(p) == 0 {
		return 0, nil
	}
	buf, err := a.br.Peek(a.br.Size())
	if len(buf) == 0 {
		if err == nil {
			err = io.EOF
		}
		return 0, err
	}
	i := 0
	for i < len(buf) && buf[i] < utf8.RuneSelf {
		i++
	}
	if i > 0 {
		n := copy(p, buf[:i])
		a.br.Discard(n)
		return n, nil
	}
	if looksUTF8(buf, len(buf) == a.br.Size()) {
		a.r = a.br
	} else {
		a.r = transform.NewReader(a.br, simplifiedchinese.GB18030.NewDecoder())
	}
	return a.r.Read(p)
}

// looksUTF8 reports whether b is valid UTF-8; when more may follow (more is
// true), a rune cut at the end of b does not count against it.
func looksUTF8(b []byte, more bool) bool {
	if more {
		for k := 1; k <= utf8.UTFMax && k <= len(b); k++ {
			c := b[len(b)-k]
			if utf8.RuneStart(c) {
				if !utf8.FullRune(b[len(b)-k:]) {
					b = b[:len(b)-k]
				}
				break
			}
		}
	}
	return utf8.Valid(b)
}
