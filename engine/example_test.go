package engine_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"strings"

	"github.com/topscript/topscript/engine"
	"github.com/topscript/topscript/sandbox"
	"github.com/topscript/topscript/top"
)

// Shop is a host value the example exposes to scripts.
type Shop struct {
	Name     string
	MinPrice float64
}

// Allow reports whether a price passes the shop's floor.
func (s *Shop) Allow(price float64) bool { return price >= s.MinPrice }

// Example embeds topscript in a Go program: an engine with its own client
// (here against an in-process sandbox), its own output stream and allowed
// modules, a host Go value exposed to the script, and typed errors back.
func Example() {
	// A local TOP gateway; a real program points the client at eco.taobao.com.
	sb, err := sandbox.StartLocal(sandbox.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer sb.Close()

	cfg := top.DefaultConfig()
	cfg.AppKey, cfg.AppSecret, cfg.Session = sandbox.DefaultAppKey, sandbox.DefaultAppSecret, sandbox.DefaultSession
	cfg.Gateway = sb.URL()
	client, err := top.NewClient(cfg)
	if err != nil {
		log.Fatal(err)
	}

	eng, err := engine.New(engine.Options{
		Client:  client,
		Stdout:  os.Stdout,
		Modules: []string{"top", "json"},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer eng.Close()
	eng.Set("shop", &Shop{Name: "demo store", MinPrice: 9.9})

	err = eng.RunString(context.Background(), "example.lua", `
		local json = require("json")
		local page = top.call("taobao.items.onsale.get", {fields = "num_iid,title", page_size = 3})
		print(shop.Name, #page.items, "items on this page")
		print("allow 5.00:", shop:Allow(5.00), "allow 19.90:", shop:Allow(19.90))
		print(json.encode({write = top.is_write("taobao.item.sku.price.update")}))

		local _, err = top.try("taobao.item.seller.get", {num_iid = 1, fields = "num_iid"})
		print(err.code, err.kind)
		top.call("taobao.item.seller.get", {num_iid = 1, fields = "num_iid"})  -- uncaught: line 10
	`)

	var se *engine.ScriptError
	if errors.As(err, &se) {
		fmt.Println("script error at", se.File, se.Line, "method", se.Top.Method)
		fmt.Println(strings.Contains(se.Error(), "example.lua:10: taobao.item.seller.get: 15 "))
	}
	// Output:
	// demo store	3	items on this page
	// allow 5.00:	false	allow 19.90:	true
	// {"write":true}
	// 15	isv
	// script error at example.lua 10 method taobao.item.seller.get
	// true
}
