// Package toptime holds the platform's clock conventions, in one place for
// every package that reads or writes a TOP time (the client, the config
// loader, the Lua time module, the sandbox): a TOP time is text in the
// layout "yyyy-MM-dd HH:mm:ss" and always in GMT+8, whatever the zone of the
// host or of the time.Time at hand.
package toptime

import "time"

// Zone is the fixed GMT+8 zone of every TOP time ("CST", China Standard Time).
var Zone = time.FixedZone("CST", 8*3600)

// Layout is the layout of a TOP time, "yyyy-MM-dd HH:mm:ss".
const Layout = "2006-01-02 15:04:05"

// Format writes t as a TOP time: in GMT+8, whatever the zone of t or of the host.
func Format(t time.Time) string { return t.In(Zone).Format(Layout) }

// Parse reads a TOP time ("2024-11-11 00:00:00", GMT+8).
func Parse(s string) (time.Time, error) { return time.ParseInLocation(Layout, s, Zone) }
