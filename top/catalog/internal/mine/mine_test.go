package mine

import (
	"reflect"
	"strconv"
	"strings"
	"testing"
)

func f(v float64) *float64 { return &v }

func TestParam(t *testing.T) {
	for _, c := range []struct {
		typ, desc string
		want      Facts
	}{
		// page sizes and page numbers
		{"Number", "每页条数。取值范围:大于零的整数; 默认值:40;最大值:100", Facts{Default: "40", Min: f(1), Max: f(100)}},
		{"Number", "每页条数。 默认值:40;最大值:50，可填整数。通过page_no和page_size组合多次调用实现翻页获取全量数据。", Facts{Default: "40", Max: f(50)}},
		{"Number", "页码。取值范围:大于零的整数; 默认值:1", Facts{Default: "1", Min: f(1)}},
		{"Number", "分页参数，每页数量。最大值50", Facts{Max: f(50)}},
		{"Number", "页大小,最大500", Facts{Max: f(500)}},
		{"Number", "每页数量，默认10，最大50", Facts{Default: "10", Max: f(50)}},
		{"Number", "每页显示的会员数量，page_size的最大值不能超过100，最小值不能小于1", Facts{Max: f(100), Min: f(1)}},
		// two maximums that disagree: no maximum
		{"Number", "每页条数。取值范围:大于0小于等于100的整数; 默认值:40; 最小值：1；最大值:20", Facts{Default: "40", Min: f(1)}},
		// a limit on a product is not a limit on the value
		{"Number", "当前页（从1开始, 目前由于底层引擎限制，实际最多能查5000个，超过5000返回为空，请确保页码*分页大小不超过5000）", Facts{}},
		// an example or a condition states no rule
		{"Price", "Sku的销售价格。精确到2位小数;单位:元。如:200.07，表示:200元7分。修改后的sku价格要保证商品的价格在所有sku价格所形成的价格区间内（例如：商品价格为6元，sku价格有5元、10元两种，如果要修改5元sku的价格，那么修改的范围只能是0-6元之间；如果要修改10元的sku，那么修改的范围只能是6到无穷大的区间中）", Facts{}},
		{"Number", "库存修改值，必选。当全量更新库存时，quantity必须为大于等于0的正整数；当增量更新库存时，quantity为整数，可小于等于0。若增量更新时传入的库存为负数，则负数与实际库存之和不能小于0。比如当前实际库存为1，传入增量更新quantity=-1，库存改为0", Facts{}},
		{"Number", "每页条数。取值范围:大于0小于等于100的整数", Facts{Min: f(1), Max: f(100)}},
		// ranges
		{"Number", "入住人数(范围1~10)", Facts{Min: f(1), Max: f(10)}},
		{"Number", "离线消息保存时长,取值范围为1~72,若不填,则表示不保存离线消息", Facts{Min: f(1), Max: f(72)}},
		{"Number", "备货期，单位是天，范围是1-60", Facts{Min: f(1), Max: f(60)}},
		{"Number", "产品库存必须是1到999999之间", Facts{Min: f(1), Max: f(999999)}},
		{"String", "采购基准价，单位：元。例：“10.56”。必须在0.01元到10000000元之间。", Facts{Min: f(0.01), Max: f(10000000), Decimal: true}},
		{"String", "图片位置，0-14之间", Facts{}}, // a String range not in yuan says nothing checkable
		// defaults
		{"Boolean", "是否支持会员打折。可选值：true，false；默认值：false(不打折)。不传的话默认为false", Facts{Default: "false"}},
		{"String", "是否需要发票(Y/N;默认为N)", Facts{Default: "N"}},
		{"Number", "可选，减库存方式。0-拍下减库存。1-付款减库存。不传默认为0", Facts{Default: "0"}},
		{"Number", "默认值：全程", Facts{}},
		{"Number", "默认false", Facts{}}, // not a Number
		// allowed values
		{"String", "卖家是否发货.可选值:yes(是),no(否).如:yes", Facts{Enum: []string{"yes", "no"}}},
		{"String", "退款类型，可选值refund（仅退款）、return_and_refund（退款退货）", Facts{Enum: []string{"refund", "return_and_refund"}}},
		{"String", "消息推送的方式，可选值为TO_USER，TO_APP_BOX，BROADCAST", Facts{Enum: []string{"TO_USER", "TO_APP_BOX", "BROADCAST"}}},
		{"String", "行为类型（可枚举）：LISTEN（主动试听）、PASSIVE_LISTEN（被动试听）", Facts{Enum: []string{"LISTEN", "PASSIVE_LISTEN"}}},
		{"String", "环境变量值，该字段为枚举值：daily（日常），pre（预发），online（线上）", Facts{Enum: []string{"daily", "pre", "online"}}},
		{"String", "商户ID类型，取值为miaojie或out", Facts{Enum: []string{"miaojie", "out"}}},
		{"String", "表示用户是否有对应的权益，取值范围true、false", Facts{Enum: []string{"true", "false"}}},
		{"String", "运费类型，可选值：seller（供应商承担运费）、buyer（分销商承担运费）。", Facts{Enum: []string{"seller", "buyer"}}},
		{"String", "排序方式。格式为column:asc/desc ，column可选值:list_time(上架时间),delist_time(下架时间),num(商品数量)，modified(最近修改时间);默认上架时间降序", Facts{}},
		// not allowed values: incomplete, a range, a code list, a reference, no marker
		{"String", "可选值有ershou(二手市场的订单）,service（商城服务子订单）mark（双十一大促活动异常订单）", Facts{}},
		{"String", "订单类型，可选值如a,b等", Facts{}},
		{"Number", "推送类型,取值范围:1~4; 1:所有人", Facts{Min: f(1), Max: f(4)}},
		{"String", "开票发票类型  可选值：  0: 电票  1：纸质普票  2：纸质专票", Facts{}},
		{"String", "需要返回的字段列表，多个字段用半角逗号分隔，可选值为返回示例中能看到的所有字段。", Facts{List: true}},
		{"Number", "退票类型。1-无条件退改， 2-有条件退改， 3-不可退改。", Facts{}},
		// lists and their sizes
		{"Number", "产品ID列表（最大限制30），用逗号分割，例如：“1001,1002,1003,1004,1005”", Facts{List: true, MaxList: 30}},
		{"Number[]", "经销采购单编号。<br/>多个编号用英文符号的逗号隔开。最多支持50个经销采购单编号的查询。", Facts{MaxList: 50}},
		{"String[]", "关键词列表集合,id用半角逗号分割，一次最多20个", Facts{MaxList: 20}},
		{"String", "商品筛选-后台类目ID。用,分割，最大10个，该ID可以通过taobao.itemcats.get接口获取到", Facts{List: true, MaxList: 10}},
		{"ReceiverQuery[]", "解密请求列表，最多支持20个。", Facts{MaxList: 20}},
		{"String", "改期规定,1、不可为空 2、可填写：收取20%改期费用，或者是收取500元改期费等。 3、改期规定最多为300个字符", Facts{MaxLen: 300}},
		{"String", "多个用分号分隔，最多20个", Facts{}}, // not a comma list
		// lengths
		{"String", "产品名称，长度不超过60个字节。", Facts{MaxLen: 60}},
		{"String", "创意标题，最多30个汉字", Facts{MaxLen: 30}},
		{"String", "产品描述，长度为5到25000字符。", Facts{MinLen: 5, MaxLen: 25000}},
		{"String", "备注,<br><font color='red'>备注不能超过256字节</font>", Facts{MaxLen: 256}},
		{"String", "可选，商家自定义标签（最多4个字，超长则自动截断，会进行违禁词校验）", Facts{}}, // truncated, not refused
		// money in a Number
		{"Number", "调账金额", Facts{Decimal: true}},
		{"Number", "运费模板ID，参考taobao.postages.get。", Facts{}},
		{"Number", "采购价，单位分", Facts{}},
		{"Number", "", Facts{}},
	} {
		got := Param(c.typ, c.desc)
		if !reflect.DeepEqual(noEmpty(got), noEmpty(c.want)) {
			t.Errorf("Param(%s, %q)\n got %s\nwant %s", c.typ, c.desc, show(got), show(c.want))
		}
	}
}

func noEmpty(f Facts) Facts {
	if len(f.Enum) == 0 {
		f.Enum = nil
	}
	return f
}

// show writes f as "default=40 max=100 list".
func show(f Facts) string {
	var b []string
	if f.Default != "" {
		b = append(b, "default="+f.Default)
	}
	if len(f.Enum) > 0 {
		b = append(b, "enum="+strings.Join(f.Enum, "|"))
	}
	if f.Min != nil {
		b = append(b, "min="+strconv.FormatFloat(*f.Min, 'f', -1, 64))
	}
	if f.Max != nil {
		b = append(b, "max="+strconv.FormatFloat(*f.Max, 'f', -1, 64))
	}
	if f.MinLen > 0 {
		b = append(b, "min_len="+strconv.Itoa(f.MinLen))
	}
	if f.MaxLen > 0 {
		b = append(b, "max_len="+strconv.Itoa(f.MaxLen))
	}
	if f.MaxList > 0 {
		b = append(b, "max_list="+strconv.Itoa(f.MaxList))
	}
	if f.List {
		b = append(b, "list")
	}
	if f.Decimal {
		b = append(b, "decimal")
	}
	return "{" + strings.Join(b, " ") + "}"
}

func TestSession(t *testing.T) {
	for _, c := range []struct{ title, desc, want string }{
		{"查询卖家已卖出的交易数据", "搜索当前会话用户作为卖家已卖出的交易数据", "required"},
		{"获取授权账号对应的OpenUid", "", "required"},
		{"开票请求", "商家自研ERP发起开票请求，无需授权，API只能使用商家入驻的税号进行开票", "none"},
		{"获取前台展示的店铺类目", "无需授权; 获取前台展示的店铺类目;", "none"},
		{"获取淘宝系统当前时间", "获取淘宝系统当前时间", ""},
	} {
		if got := Session(c.title, c.desc); got != c.want {
			t.Errorf("Session(%q, %q) = %q, want %q", c.title, c.desc, got, c.want)
		}
	}
}

func TestClean(t *testing.T) {
	if got, want := Clean("a<br/>b&lt;c&gt; （最大值：１００）\n  x"), "a b<c> (最大值:100) x"; got != want {
		t.Errorf("Clean = %q, want %q", got, want)
	}
}
