package config

import (
	"strings"
	"testing"
)

// A profile names the shop it runs for and where shops authorise; an
// entry of the schedule names its shops. Mistakes name file, line and key.
func TestShopKeys(t *testing.T) {
	src := `profile = "p"
[profiles.p]
shop = "北京店"
oauth_url = "https://oauth.example.com"
oauth_exchange = "gateway"

[[schedule]]
name = "sync"
cron = "@every 1m"
script = "s.lua"
shops = "all"

[[schedule]]
name = "prices"
cron = "@every 1m"
script = "p.lua"
shops = ["a", "b"]

[[schedule]]
name = "one"
cron = "@every 1m"
script = "o.lua"
shop = "a"
`
	f, err := Parse("c.toml", src, Options{Env: envMap(nil)})
	if err != nil {
		t.Fatal(err)
	}
	if f.Shops != (Shops{Shop: "北京店", OAuthURL: "https://oauth.example.com", Exchange: ExchangeGateway}) {
		t.Errorf("profile: %+v", f.Shops)
	}
	s := f.Schedules
	if !s[0].AllShops || strings.Join(s[1].Shops, ",") != "a,b" || strings.Join(s[2].Shops, ",") != "a" || s[2].AllShops {
		t.Errorf("schedule: %+v", s)
	}
	out := f.Redacted()
	for _, want := range []string{"shop            北京店", "oauth_exchange  gateway", "(every authorised shop)", "(shops a, b)"} {
		if !strings.Contains(out, want) {
			t.Errorf("config check lacks %q:\n%s", want, out)
		}
	}
	for _, c := range []struct{ src, want string }{
		{"[profiles.default]\nshop = \"a,b\"\n", `c.toml:2: profiles.default.shop: shop name "a,b": ',' is not allowed (letters, digits and . _ - @)`},
		{"[profiles.default]\nsession = \"s\"\nshop = \"a\"\n", `c.toml:3: profiles.default.shop: give session or shop, not both`},
		{"[profiles.default]\noauth_url = \"oauth.taobao.com\"\n", `c.toml:2: profiles.default.oauth_url: bad oauth_url "oauth.taobao.com"`},
		{"[profiles.default]\noauth_exchange = \"api\"\n", `c.toml:2: profiles.default.oauth_exchange: bad oauth_exchange "api": want "token_url"`},
		{"[[schedule]]\nname = \"x\"\ncron = \"@every 1m\"\nscript = \"x.lua\"\nshops = \"some\"\n", `c.toml:5: schedule[1].shops: want "all" or an array of shop names, got "some"`},
		{"[[schedule]]\nname = \"x\"\ncron = \"@every 1m\"\nscript = \"x.lua\"\nshops = []\n", `c.toml:5: schedule[1].shops: no shop named`},
		{"[[schedule]]\nname = \"x\"\ncron = \"@every 1m\"\nscript = \"x.lua\"\nshops = [\"a\", \"b c\"]\n", `schedule[1].shops[2]: shop name "b c"`},
		{"[[schedule]]\nname = \"x\"\ncron = \"@every 1m\"\nscript = \"x.lua\"\nshop = \"a\"\nshops = \"all\"\n", `schedule[1].shops: give shop or shops, not both`},
		{"[[schedule]]\nname = \"x\"\ncron = \"@every 1m\"\nscript = \"x.lua\"\nshops = [\"a\", \"b\", \"a\"]\n", `c.toml:5: schedule[1].shops[3]: shop a is named twice`},
	} {
		_, err := Parse("c.toml", c.src, Options{Env: envMap(nil)})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v, want %s", c.src, err, c.want)
		}
	}
}
