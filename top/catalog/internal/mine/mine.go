// Package mine reads the platform's parameter descriptions for the facts
// they state in prose — a default, the allowed values, a maximum, "at most N
// items", a length limit — and returns them as structured fields. The
// importer (internal/importmodel) runs it once over the reference model; the
// project ships only what it returns, never the sentences.
//
// It is deliberately conservative, because a wrong fact would make the
// client refuse a correct call: a rule yields a fact only when its pattern is
// explicit ("可选值:a,b", "默认值:40", "最大值:100", "最多20个", "不超过60个字节"),
// a list of allowed values needs at least two members and is dropped when the
// text says it is incomplete ("等"), numbered code lists without a marker
// ("1-无条件退改，2-有条件退改") are not taken as allowed values, and two
// rules that disagree about the same fact (a text saying both "最大值:100" and
// "最大值:20") yield nothing for it.
package mine

import (
	"math"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/text/unicode/norm"
)

// Facts are the structured facts one parameter's description states.
type Facts struct {
	Default string   // the value used when the parameter is absent
	Enum    []string // the allowed values (of each element, for a list)
	Min     *float64 // smallest allowed value
	Max     *float64 // largest allowed value
	MinLen  int      // fewest characters
	MaxLen  int      // most characters (or bytes, as the text says; counted as characters)
	MaxList int      // most elements of a list
	List    bool     // a scalar-typed parameter that takes comma-joined values
	Decimal bool     // a Number parameter that carries money or another decimal
}

// Empty reports whether f holds no fact.
func (f Facts) Empty() bool {
	return f.Default == "" && len(f.Enum) == 0 && f.Min == nil && f.Max == nil &&
		f.MinLen == 0 && f.MaxLen == 0 && f.MaxList == 0 && !f.List && !f.Decimal
}

// Clean turns a description into plain text: HTML tags dropped, entities
// decoded, full-width forms folded to half-width (NFKC), whitespace runs
// collapsed.
func Clean(desc string) string {
	s := re().tag.ReplaceAllString(desc, " ")
	s = strings.NewReplacer("&lt;", "<", "&gt;", ">", "&amp;", "&", "&quot;", `"`, "&nbsp;", " ", "&#39;", "'").Replace(s)
	s = norm.NFKC.String(s)
	// NFKC keeps these; they separate like their ASCII forms.
	s = strings.NewReplacer("“", `"`, "”", `"`, "‘", "'", "’", "'", "～", "~").Replace(s)
	return strings.Join(strings.Fields(s), " ")
}

type regexps struct {
	tag                                      *regexp.Regexp
	def                                      *regexp.Regexp
	maxVal, minVal, maxBare, maxWord, minWrd *regexp.Regexp
	positive, nonNeg                         *regexp.Regexp
	rangeBetween, rangeMarked                *regexp.Regexp
	length, lengthRange                      *regexp.Regexp
	listMax, listLimit                       *regexp.Regexp
	comma, semicolon                         *regexp.Regexp
	enumMarker, enumGlue, enumToken, enumSep *regexp.Regexp
	enumStop                                 *regexp.Regexp
	money, cents                             *regexp.Regexp
	truncates, charUnit, product             *regexp.Regexp
	hedge, between                           *regexp.Regexp
}

// units that follow a number which is not the parameter's own value.
const otherUnit = `(?:个|条|张|项|组|次|字|天|日|月|年|小时|时|分钟|分|秒|毫秒|ms|[KkMmGg][Bb]?|位|元|%|倍|米|km|公里|页|人|间|晚|份|期)`

var re = sync.OnceValue(func() *regexps {
	num := `(-?\d+(?:\.\d+)?)`
	return &regexps{
		tag: regexp.MustCompile(`<[^>]*>`),
		// 默认值:40 / 默认为false / 默认20 / 默认是X
		def: regexp.MustCompile(`默认(?:值)?\s*(?:为|是|:)?\s*"?([A-Za-z0-9_.\-]+)`),
		// 最大值:100 / 最大值为50
		maxVal: regexp.MustCompile(`最大值\s*(?:为|是|:)?\s*` + num),
		minVal: regexp.MustCompile(`最小值\s*(?:为|是|:)?\s*` + num),
		// 最大50 / 最大为200 (no unit after it)
		maxBare: regexp.MustCompile(`最大\s*(?:为|是|:)?\s*` + num),
		// 不超过100 / 不能大于20 / <=100
		maxWord: regexp.MustCompile(`(?:不超过|不能超过|不可超过|不得超过|不大于|不能大于|<=)\s*` + num),
		minWrd:  regexp.MustCompile(`(?:不小于|不能小于|不得小于|大于等于|>=)\s*` + num),
		// 大于零的整数 / 大于0的整数 / 正整数 / 大于0小于等于100的整数
		positive: regexp.MustCompile(`大于\s*(?:零|0)\s*(?:的整数|小于|且|的正整数|,)|正整数`),
		nonNeg:   regexp.MustCompile(`大于等于\s*(?:零|0)\s*的整数|非负整数`),
		// 必须在0.01元到10000000元之间 / 0-14之间 / 1到999999之间
		rangeBetween: regexp.MustCompile(num + `\s*(元)?\s*(?:-|~|到|至)\s*` + num + `\s*(元)?\s*之间`),
		// 取值范围:1~4 / 取值范围[1-100] / 范围1-50
		rangeMarked: regexp.MustCompile(`范围\s*(?:为|是|:)?\s*\[?\s*` + num + `\s*(?:-|~|到|至)\s*` + num + `\s*\]?`),
		// 长度不超过60个字节 / 最多30个汉字 / 最长50个字符 / 不超过20字 / 100字以内
		length:      regexp.MustCompile(`(?:长度|最多|最长|最大|不超过|不能超过|不可超过|不得超过|限|超过|不大于|小于等于)[^\d,.;。]{0,6}?(\d+)\s*个?\s*(?:中文字符|英文字符|字符|字节|汉字|中文|字)|(\d+)\s*个?\s*(?:字符|字节|汉字|字)\s*(?:以内|之内)`),
		lengthRange: regexp.MustCompile(`长度\s*(?:为|是|在|:)?\s*(\d+)\s*(?:-|~|到|至)\s*(\d+)\s*个?\s*(?:字符|字节|汉字|字)`),
		// 最多20个 / 一次最多不超过40个 / 最多支持50个 / 最大限制30 / 最多传入100
		listMax:   regexp.MustCompile(`(?:最多|至多|最大|上限|不超过|不能超过|不可超过)[^\d,.;。]{0,8}?(\d+)\s*(` + otherUnit + `?)`),
		listLimit: regexp.MustCompile(`最大限制\s*(\d+)|(\d+)\s*个以内`),
		comma:     regexp.MustCompile(`逗号|"\s*,\s*"|'\s*,\s*'|[用以按]\s*,\s*(?:分隔|隔开|分割|间隔|拼接|连接)|,\s*(?:分隔|隔开|分割)`),
		semicolon: regexp.MustCompile(`分号|";"|;分隔|;隔开`),
		// 可选值:a,b / 取值范围true、false / 枚举值:daily(日常),pre(预发) / 取值为a或b
		enumMarker: regexp.MustCompile(`可选值|取值范围|可枚举|枚举值|枚举|取值为|取值`),
		enumGlue:   regexp.MustCompile(`^(?:\s|:|为|是|有|包括|如下|\(|\))*`),
		enumStop:   regexp.MustCompile(`^(?:等|~|-|到|至|:|[A-Za-z0-9_])`),
		enumToken:  regexp.MustCompile(`^"?([A-Za-z0-9_\-]+)"?\s*(?:\([^)]*\))?`),
		enumSep:    regexp.MustCompile(`^\s*(?:,|、|/|\||或|及|和)\s*`),
		money:      regexp.MustCompile(`元|金额|价格|单价|售价|原价|现价|费用|小数|经度|纬度|longitude|latitude|比例|比率|折扣|百分`),
		cents:      regexp.MustCompile(`单位\s*(?:为|是|:)?\s*(?:人民币)?分|\(分\)|单位分`),
		truncates:  regexp.MustCompile(`截断|截取`),
		// a clause that states a condition or gives an example is not a rule
		hedge:    regexp.MustCompile(`例如|比如|举例|例:|如:|示例|如果|若|当.*时|可小于|可大于|可以小于|可以大于`),
		between:  regexp.MustCompile(`大于\s*(-?\d+)\s*(?:且|,)?\s*小于等于\s*(-?\d+)`),
		charUnit: regexp.MustCompile(`^\s*(?:中文字符|英文字符|字符|字节|汉字|字)`),
		// "页码*分页大小不超过5000": a limit on a product, not on the value
		product: regexp.MustCompile(`[*×]|乘`),
	}
})

// Param mines the description of one parameter of type typ ("String",
// "Number", "Number[]", a struct name ...).
func Param(typ, desc string) Facts {
	all := Clean(desc)
	var f Facts
	if all == "" {
		return f
	}
	r := re()
	// Limits are read from the clauses that state rules, not from those
	// that give an example or a condition ("例如:商品价格为6元,...范围只能是
	// 0-6元之间", "当增量更新库存时,quantity...可小于等于0").
	s := rules(all)
	base, isList := strings.CutSuffix(typ, "[]")
	scalar := base == "String" || base == "Number" || base == "Price" || base == "Boolean" || base == "Date"
	if scalar && !isList && r.comma.MatchString(all) && !r.semicolon.MatchString(all) {
		f.List = true
	}
	listy := isList || f.List
	if base == "Number" && r.money.MatchString(all) && !r.cents.MatchString(all) {
		f.Decimal = true
	}

	// The default.
	if scalar && base != "Date" {
		var defs []string
		for _, m := range r.def.FindAllStringSubmatch(all, -1) {
			v := strings.TrimRight(m[1], ".-")
			if v != "" && fitsType(base, v, f.Decimal) {
				defs = append(defs, v)
			}
		}
		f.Default = agree(defs)
	}

	// A range of values: Number and Price parameters, and String parameters
	// whose range is in yuan (a price written as text).
	if base == "Number" || base == "Price" || base == "String" {
		var mins, maxs []float64
		money := false
		for _, m := range r.rangeBetween.FindAllStringSubmatch(s, -1) {
			lo, _ := strconv.ParseFloat(m[1], 64)
			hi, _ := strconv.ParseFloat(m[3], 64)
			if m[2] != "" || m[4] != "" {
				money = true
			}
			if lo <= hi {
				mins, maxs = append(mins, lo), append(maxs, hi)
			}
		}
		if base != "String" || money {
			numeric := base != "String"
			if numeric {
				for _, m := range r.rangeMarked.FindAllStringSubmatchIndex(s, -1) {
					if unitFollows(s, m[1]) {
						continue
					}
					lo, _ := strconv.ParseFloat(s[m[2]:m[3]], 64)
					hi, _ := strconv.ParseFloat(s[m[4]:m[5]], 64)
					if lo <= hi {
						mins, maxs = append(mins, lo), append(maxs, hi)
					}
				}
				if !listy {
					maxs = append(maxs, valuesWithoutUnit(s, r.maxVal)...)
					maxs = append(maxs, valuesWithoutUnit(s, r.maxBare)...)
					maxs = append(maxs, valuesWithoutUnit(s, r.maxWord)...)
					mins = append(mins, valuesWithoutUnit(s, r.minVal)...)
					mins = append(mins, valuesWithoutUnit(s, r.minWrd)...)
				}
				for _, m := range r.between.FindAllStringSubmatch(s, -1) {
					lo, _ := strconv.ParseFloat(m[1], 64)
					hi, _ := strconv.ParseFloat(m[2], 64)
					maxs = append(maxs, hi)
					if base == "Number" && !f.Decimal {
						mins = append(mins, lo+1)
					}
				}
				if base == "Number" && !f.Decimal && r.positive.MatchString(s) {
					mins = append(mins, 1)
				} else if base == "Number" && r.nonNeg.MatchString(s) {
					mins = append(mins, 0)
				}
			}
			if v, ok := agreeNum(mins); ok {
				f.Min = &v
			}
			if v, ok := agreeNum(maxs); ok {
				f.Max = &v
			}
			if f.Min != nil && f.Max != nil && *f.Min > *f.Max {
				f.Min, f.Max = nil, nil
			}
			if money && base == "String" && f.Min == nil && f.Max == nil {
				money = false
			}
			if money && base == "String" {
				f.Decimal = true
			}
		}
	}

	// A length, for text that is not a list. A limit the platform enforces
	// by truncating is not a reason to refuse a call.
	if base == "String" && !listy && !r.truncates.MatchString(all) {
		var lens []float64
		for _, m := range r.length.FindAllStringSubmatch(s, -1) {
			v := m[1]
			if v == "" {
				v = m[2]
			}
			n, _ := strconv.ParseFloat(v, 64)
			lens = append(lens, n)
		}
		var lows []float64
		for _, m := range r.lengthRange.FindAllStringSubmatch(s, -1) {
			lo, _ := strconv.ParseFloat(m[1], 64)
			hi, _ := strconv.ParseFloat(m[2], 64)
			if lo <= hi {
				lows, lens = append(lows, lo), append(lens, hi)
			}
		}
		if v, ok := agreeNum(lens); ok && v > 0 && v < math.MaxInt32 {
			f.MaxLen = int(v)
		}
		if v, ok := agreeNum(lows); ok && v > 0 && f.MaxLen > 0 {
			f.MinLen = int(v)
		}
	}

	// How many elements a list takes.
	if listy {
		var ns []float64
		for _, m := range r.listMax.FindAllStringSubmatchIndex(s, -1) {
			switch unit := s[m[4]:m[5]]; unit {
			case "", "个", "条", "张", "项", "组":
				if r.charUnit.MatchString(s[m[5]:]) {
					continue // "最多300个字符" is a length
				}
				n, _ := strconv.ParseFloat(s[m[2]:m[3]], 64)
				ns = append(ns, n)
			}
		}
		for _, m := range r.listLimit.FindAllStringSubmatch(s, -1) {
			v := m[1]
			if v == "" {
				v = m[2]
			}
			n, _ := strconv.ParseFloat(v, 64)
			ns = append(ns, n)
		}
		if v, ok := agreeNum(ns); ok && v > 0 && v < math.MaxInt32 {
			f.MaxList = int(v)
		}
	}

	// The allowed values.
	if scalar && base != "Boolean" && base != "Date" {
		f.Enum = enum(s, base, f.Decimal)
	}
	return f
}

// rules returns what s states as rules: each sentence (split at 。, ; and a
// "." not inside a number) up to where it starts an example or a condition
// ("例如", "如果", "若", "当...时", "可小于"), which says nothing general.
func rules(s string) string {
	r := re()
	var keep []string
	for _, c := range sentences(s) {
		if m := r.hedge.FindStringIndex(c); m != nil {
			c = c[:m[0]]
		}
		if c = strings.TrimSpace(c); c != "" {
			keep = append(keep, c)
		}
	}
	return strings.Join(keep, "。")
}

func sentences(s string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == ';':
		case s[i] == '.' && (i+1 == len(s) || s[i+1] < '0' || s[i+1] > '9'):
		case strings.HasPrefix(s[i:], "。"):
			out = append(out, s[start:i])
			i += len("。") - 1
			start = i + 1
			continue
		default:
			continue
		}
		out = append(out, s[start:i])
		start = i + 1
	}
	return append(out, s[start:])
}

// enum finds the list after an explicit marker (可选值, 取值范围, 枚举值,
// 取值为): tokens, each maybe followed by a parenthesised gloss, separated by
// commas, 、, /, | or 或. The first list of at least two values wins, unless
// it is said to be incomplete (followed by 等), is a range ("1~4") or a code
// list ("0:全程, 1:每个航段").
func enum(s, base string, decimal bool) []string {
	for _, sentence := range sentences(s) {
		if vals := enumIn(sentence, base, decimal); vals != nil {
			return vals
		}
	}
	return nil
}

// enumIn is enum within one sentence. A sentence that describes a format
// ("格式为column:asc/desc, column可选值:...") lists the values of a part of
// the value, not of the value.
func enumIn(s, base string, decimal bool) []string {
	r := re()
	if strings.Contains(s, "格式") {
		return nil
	}
	for _, loc := range r.enumMarker.FindAllStringIndex(s, -1) {
		if loc[0] > 0 && isIdentByte(s[loc[0]-1]) {
			continue // "column可选值": the values of a part
		}
		rest := s[loc[1]:]
		rest = rest[len(r.enumGlue.FindString(rest)):]
		var vals []string
		for {
			m := r.enumToken.FindStringSubmatchIndex(rest)
			if m == nil {
				break
			}
			vals = append(vals, rest[m[2]:m[3]])
			rest = rest[m[1]:]
			sep := r.enumSep.FindStringIndex(rest)
			if sep == nil {
				break
			}
			rest = rest[sep[1]:]
		}
		rest = strings.TrimSpace(rest)
		if r.enumStop.MatchString(rest) {
			continue
		}
		vals = dedupe(vals)
		if len(vals) < 2 {
			continue
		}
		ok := true
		for _, v := range vals {
			if !fitsType(base, v, decimal) {
				ok = false
			}
		}
		if ok {
			return vals
		}
	}
	return nil
}

func isIdentByte(c byte) bool {
	return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// valuesWithoutUnit returns the numbers rx captures (group 1) that no unit
// follows ("最大100" but not "最大100个字符" nor "最大1M").
func valuesWithoutUnit(s string, rx *regexp.Regexp) []float64 {
	var out []float64
	for _, m := range rx.FindAllStringSubmatchIndex(s, -1) {
		if unitFollows(s, m[1]) || re().product.MatchString(s[max(0, m[0]-24):m[0]]) {
			continue
		}
		v, err := strconv.ParseFloat(s[m[2]:m[3]], 64)
		if err == nil {
			out = append(out, v)
		}
	}
	return out
}

var unitRe = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^\s*(?:` + otherUnit + `|字符|字节|汉字|中文|英文|w|W|万|千|百|\.\d)`)
})

func unitFollows(s string, end int) bool { return unitRe().MatchString(s[end:]) }

// fitsType reports whether v is a value of base.
func fitsType(base, v string, decimal bool) bool {
	switch base {
	case "Number":
		if _, err := strconv.ParseInt(v, 10, 64); err == nil {
			return true
		}
		if decimal {
			_, err := strconv.ParseFloat(v, 64)
			return err == nil && !strings.ContainsAny(v, "eEnN")
		}
		return false
	case "Price":
		_, err := strconv.ParseFloat(v, 64)
		return err == nil && !strings.ContainsAny(v, "eEnN")
	case "Boolean":
		return v == "true" || v == "false"
	}
	return v != ""
}

// agree returns the one value vs hold, or "" when they differ or are none.
func agree(vs []string) string {
	if len(vs) == 0 {
		return ""
	}
	for _, v := range vs[1:] {
		if v != vs[0] {
			return ""
		}
	}
	return vs[0]
}

func agreeNum(vs []float64) (float64, bool) {
	if len(vs) == 0 {
		return 0, false
	}
	for _, v := range vs[1:] {
		if v != vs[0] {
			return 0, false
		}
	}
	return vs[0], true
}

func dedupe(vs []string) []string {
	seen := map[string]bool{}
	out := vs[:0]
	for _, v := range vs {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

// Session reads a method's title and description for whether it needs a
// user's session: "none" when they say no authorisation is needed,
// "required" when they speak of the authorised or current user, of a
// seller's, shop's or buyer's own data; "" when they say nothing.
func Session(title, desc string) string {
	s := Clean(title + " " + desc)
	for _, w := range []string{"无需授权", "不需要授权", "无需用户授权", "免授权", "无需登录", "不需要登录"} {
		if strings.Contains(s, w) {
			return "none"
		}
	}
	for _, w := range []string{"授权", "当前会话", "会话用户", "当前用户", "当前登录", "session", "Session", "卖家", "商家", "店铺", "买家", "我的"} {
		if strings.Contains(s, w) {
			return "required"
		}
	}
	return ""
}
