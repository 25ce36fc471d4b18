package main
import (
 _ "github.com/yuin/gopher-lua"
 _ "layeh.com/gopher-luar"
 _ "github.com/peterh/liner"
 _ "github.com/BurntSushi/toml"
 _ "github.com/rogpeppe/go-internal/testscript"
 _ "go.etcd.io/bbolt"
 _ "github.com/redis/go-redis/v9"
 _ "github.com/go-redis/redis_rate/v10"
 _ "golang.org/x/text/encoding/simplifiedchinese"
 _ "github.com/robfig/cron/v3"
 _ "golang.org/x/sync/errgroup"
 _ "golang.org/x/term"
)
func main(){}
