package sandbox

import (
	"strings"
	"sync"
)

// Trade types, as taobao.trades.sold.get [46] and
// taobao.trades.sold.increment.get [128] document them.
//
// The type parameter takes a comma-separated list of the documented type
// names (tradeTypeNames). Without it, only five are queried:
// guarantee_trade, auto_delivery, ec, cod and step (defaultTradeQuery). A
// caller who wants every trade must list every type. guarantee_trade is a
// query group — fixed price and auction — and not a type: no trade carries
// it; asking for it returns fixed and auction trades.
//
// The seed's trades are of the types the default query returns (fixed,
// auction, step, auto_delivery, ec, cod), except every nonDefaultEvery-th
// trade (by index), which is of a type the default query leaves out
// (independent_simple_trade, tmall_i18n, eticket, o2o_offlinetrade). That
// regular layout keeps a default query over a million trades a plain
// index computation (resultSet.skip) instead of a scan.
//
// A choice where the doc is silent: a type name that is not documented is
// refused with 41 Invalid arguments:type (so a typo does not silently
// return nothing).

// tradeTypeNames are the values the type parameter accepts.
var tradeTypeNames = []string{
	"fixed", "auction", "guarantee_trade", "step", "independent_simple_trade",
	"independent_shop_trade", "auto_delivery", "ec", "cod", "game_equipment",
	"shopex_trade", "netcn_trade", "external_trade", "instant_trade", "b2c_cod",
	"hotel_trade", "super_market_trade", "super_market_cod_trade", "taohua",
	"waimai", "o2o_offlinetrade", "nopaid", "eticket", "tmall_i18n",
	"insurance_plus", "finance", "pre_auth_type", "lazada",
}

// TradeTypes returns the trade types the type parameter of
// trades.sold.get and increment.get accepts, guarantee_trade (a query
// group) included: listed all together, they return every trade.
func TradeTypes() []string { return append([]string(nil), tradeTypeNames...) }

// defaultTradeQuery is what a query without type asks for.
const defaultTradeQuery = "guarantee_trade,auto_delivery,ec,cod,step"

// tradeQueryGroups are query names that stand for several types.
var tradeQueryGroups = map[string][]string{"guarantee_trade": {"fixed", "auction"}}

// nonDefaultEvery: trade i is of a type the default query leaves out when
// i % nonDefaultEvery == nonDefaultEvery-1.
const nonDefaultEvery = 25

// defaultTypes are the generated types the default query returns, with
// their weights out of 100; nonDefaultTypes the generated ones it leaves
// out.
var (
	defaultTypes = []struct {
		name   string
		weight uint64
	}{{"fixed", 86}, {"auction", 4}, {"step", 4}, {"auto_delivery", 2}, {"ec", 2}, {"cod", 2}}
	nonDefaultTypes = []string{"independent_simple_trade", "tmall_i18n", "eticket", "o2o_offlinetrade"}
)

// knownTradeType is the set of tradeTypeNames. Built on first use.
var knownTradeType = sync.OnceValue(func() map[string]bool {
	m := make(map[string]bool, len(tradeTypeNames))
	for _, n := range tradeTypeNames {
		m[n] = true
	}
	return m
})

// parseTradeTypes reads a type parameter ("" is the default query) into the
// set of trade types it selects; ok is false for an undocumented name.
func parseTradeTypes(s string) (map[string]bool, bool) {
	if s == "" {
		s = defaultTradeQuery
	}
	out := map[string]bool{}
	for _, name := range strings.Split(s, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		if !knownTradeType()[name] {
			return nil, false
		}
		if g, ok := tradeQueryGroups[name]; ok {
			for _, ty := range g {
				out[ty] = true
			}
			continue
		}
		out[name] = true
	}
	return out, true
}

// typeOf is trade i's type.
func (t *tradeStore) typeOf(i int) string {
	if i%nonDefaultEvery == nonDefaultEvery-1 {
		return nonDefaultTypes[t.h(i, 4)%uint64(len(nonDefaultTypes))]
	}
	w := t.h(i, 4) % 100
	for _, ty := range defaultTypes {
		if w < ty.weight {
			return ty.name
		}
		w -= ty.weight
	}
	return defaultTypes[0].name
}

// typeSelection tells how a set of types selects the generated trades.
type typeSelection uint8

const (
	typesSome    typeSelection = iota // some generated types: scan and filter
	typesAll                          // every generated type: no filter
	typesDefault                      // exactly the default query's: skip every nonDefaultEvery-th
)

// selection classifies types (nil: every type).
func selection(types map[string]bool) typeSelection {
	if types == nil {
		return typesAll
	}
	def := true
	for _, ty := range defaultTypes {
		def = def && types[ty.name]
	}
	nonDef, anyNonDef := true, false
	for _, ty := range nonDefaultTypes {
		nonDef = nonDef && types[ty]
		anyNonDef = anyNonDef || types[ty]
	}
	switch {
	case def && nonDef:
		return typesAll
	case def && !anyNonDef:
		return typesDefault
	}
	return typesSome
}

// Ranks among the trades of the default query's types: trades with index
// below x that the default query returns, and the index of the one of rank r.
func defaultRank(x int) int { return x - x/nonDefaultEvery }
func defaultIndex(r int) int {
	return r/(nonDefaultEvery-1)*nonDefaultEvery + r%(nonDefaultEvery-1)
}
