// Package sandbox is a local emulator of the Taobao Open Platform (TOP)
// gateway. Every test, example and benchmark of topscript runs against it.
//
// # Protocol
//
// Endpoints: /router/rest (GET or POST; query string and body merged, the
// body urlencoded or multipart/form-data, file parts left out of the sign),
// /router/batch, GET /_sandbox/stats, POST /_sandbox/reset,
// POST /_sandbox/ban?seconds=N, GET and POST /_sandbox/latency?d=250ms, the
// message channel (below), the churn's GET /_sandbox/changes?since=N and
// POST /_sandbox/churn?n=N, and the shops' (below): GET /authorize, POST
// /token, GET /_sandbox/shops and GET /_sandbox/oauth.
//
// System checks run in this order, with the gateway's codes and messages:
// 21 Missing method, 22 Invalid method (a method the catalog does not
// know), 23 Invalid
// format (answered in XML), 28 Missing app key, 29 Invalid app Key
// (isv.appkey-not-exists), 30 Missing timestamp, 31 Invalid timestamp
// ("yyyy-MM-dd HH:mm:ss" in GMT+8 or epoch milliseconds, at most 10 minutes
// from Options.Now), 32 Missing / 33 Invalid / 34 Unsupported version ("2.0"),
// 24 Missing signature, 25 Invalid signature (md5, hmac, hmac-sha256; a
// missing sign_method means md5, as on the historical gateway; an unknown one
// is 25; hex compared case-insensitively; the sign covers every parameter
// received but sign and file parts, an empty value included — a choice, the
// one rule of computeSign), 26 Missing session, 27 Invalid
// session (invalid-sessionkey; an expired token too) for the APIs that need
// one (every modelled API but taobao.time.get and the token APIs, and the
// catalog's methods whose session is "required"; a session given to any
// other method must still be valid), 53 Insufficient security level (a
// token whose window for the call's level has closed; oauth.go), then bans
// and QPS (7), 40 Missing required arguments,
// injected isp faults (15), then the API itself: 41 Invalid arguments, 15 with
// isv.* sub_codes or 50 isv.invalid-parameter for business errors.
//
// Answers: format=json, or XML when format is absent; simplify=true (JSON
// only) drops the "<name>_response" wrapper and unwraps lists. Empty lists
// are left out, as on the platform. Every answer, errors included, carries a
// 12-character request_id. Ids are bare JSON numbers (int64).
//
// # APIs
//
// The core APIs listed in apis.go are modelled with state (below). Every
// other method of the catalog — the platform's whole published API model —
// answers from its documented response schema: its own checks (40, 41),
// then a deterministic, type-correct answer (see model.go for the rules and
// the choices where the docs are silent).
//
// # The core APIs, as their doc pages say
//
// The modelled APIs follow the platform's doc pages (doc ids in brackets);
// where a page is silent, the sandbox's choice is marked "choice".
//   - trades.sold.get [46], increment.get [128]: without type only the
//     default query's five types come back (guarantee_trade, auto_delivery,
//     ec, cod, step); guarantee_trade is a query group of fixed and auction
//     that no trade carries (tradetypes.go); an undocumented type name is
//     41 (choice). increment.get: end_modified strictly after
//     start_modified, a span of at most one day, newest modification first.
//     tid_str and oid_str only in trade.fullinfo.get; orders.sku_id a
//     String.
//   - item.sku.price.update [10928]: num_iid and properties required, no
//     sku_id; price, quantity, outer_id, item_price optional. The item
//     price must stay inside its SKUs' price range unless item_price moves
//     it (and lands inside): else 15 isv.invalid-parameter:price-range (the
//     code is a choice, the doc gives none). The answer: sku with sku_id,
//     iid, num_iid and modified.
//   - skus.quantity.update [21169]: at most 20 entries (more: 41, choice),
//     type 1 sets, type 2 adds and stops at 0, a shared outer_id updates
//     every SKU that has it. item.quantity.update (doc silent) refuses an
//     addition below zero (15 isv.invalid-parameter, choice).
//   - items.onsale.get [18]: only the documented fields (others ignored),
//     no SKUs, list_time descending unless order_by says otherwise.
//   - fenxiao.products.get [328]: fields (skus, images) applies only with
//     pids, other names in it are ignored (choice); newest published
//     first; the text is description. fenxiao.product.update: status up,
//     down or delete (other values ignored); quantity 1 to 999999; a
//     deleted product is gone (isv.product-not-exist; 50 on the shelf,
//     choice).
//   - the channel shelf APIs [49546, 49547]: result.module a Boolean.
//   - sub_codes carry the suffixed forms real traffic shows:
//     isv.item-not-exist:invalid-numIid-or-iid,
//     isv.invalid-parameter:sku-properties (a properties string naming no
//     SKU), isp.top-remote-connection-timeout-tmall among the isp faults;
//     code 7 in three scopes (BanScoped).
//
// # Data
//
// Deterministic from Options.Seed and the start time (Options.Now at New):
//   - seller "topscript沙箱旗舰店" (user_id 2206571234567, what
//     taobao.user.seller.get answers for its sessions: Options.Session, the
//     renewed ones of Options.Sessions and the tokens issued for it) with
//     Options.Items items on sale (default 320; the first ones the same
//     whatever the number): num_iid 12 digits
//     (600000000000 + ...), 9 in 10 with 1–9 SKUs (sku_id 13 digits,
//     properties "1627207:<color>;20509:<size>", price "12.50", quantity);
//     every 10th item has no SKUs;
//   - Options.Trades trades (default 3000) created over the 89 days before
//     the start time, newest ≥ 10 minutes old; tid 19 digits
//     (3612345000000000000 + ...), with tid_str; 1–3 orders (oid 19 digits,
//     oid_str; a single order's oid equals the tid) on the seed items;
//     modified up to 3 days after created; statuses by age. Trades are
//     derived on demand from (seed, index): a million cost nothing up front;
//   - 60 distribution (fenxiao) products, pid 10 digits, 1–4 SKUs each; they
//     are also the channel products: tmall.supplychain.channel.product.*shelf
//     take a pid as product_id and set its status ("up"/"down");
//   - 3 opentrade activities (ids 2131–2133).
//
// # Shops and sessions
//
// Options.Shops sellers of one app, each with its own seeded data (items,
// SKUs, products, trades, all ids distinct) and session; calls are routed
// by session (shops.go, with its limitations). The shops authorise the app
// through the platform's authorization-code flow: /authorize approves at
// once and redirects with a code, /token and taobao.top.auth.token.create
// exchange it, refresh_token and taobao.top.auth.token.refresh refresh;
// token and level lifetimes are Options.Tokens, short enough for tests to
// see a session expire (27) and a level's window close (53) in seconds.
// oauth.go says what is served and the choices where the platform's docs
// are silent.
//
// # Load and faults
//
// Options.QPS limits calls per app key in a rolling one-second window (less
// 5% forgiven to network jitter);
// Options.Latency is slept per HTTP request, and changes at run time
// (Server.SetLatency, POST /_sandbox/latency?d=250ms; see latency.go, with
// Stats.InFlight, the requests being served); Options.Faults injects isp
// errors and HTTP 502 that apply nothing, the same after the call was
// applied (isp_applied: an isp timeout or unknown error; http502_applied —
// what a backend that did not answer in time looks like: neither says
// whether a write was applied), dropped connections (the call applied, no
// answer), truncated bodies (the call applied, half the body sent with a
// matching Content-Length) and 1–2 s bans of the app. QPS windows, bans and
// latency use the real clock, and the QPS window and bans count a call when
// its request arrived, before the latency is slept (a gateway's flow
// control is at its door); Options.Now only dates data and checks
// timestamps.
//
// # Trade churn
//
// Options.Churn trade events a second (Server.Churn(n) or
// POST /_sandbox/churn?n=N on demand): a new trade (TradeCreate), paid
// (TradeBuyerPay), shipped (TradeSellerShip), modified (TradeMemoModified,
// TradeChanged), a refund opened (RefundCreated; orders' refund_status
// WAIT_SELLER_AGREE) and completed (RefundSuccess + TradeClose, status
// TRADE_CLOSED, refund_status SUCCESS), closed unpaid (TradeClose,
// TRADE_CLOSED_BY_TAOBAO) or finished (TradeSuccess). Churn changes new
// trades and the seed trades created in the two days before the start that
// are not final. Each change sets modified to Options.Now, is what
// trades.sold.get, increment.get and trade.fullinfo.get return from then
// on, publishes its TMC messages and is appended to the change log
// (Server.Changes, GET /_sandbox/changes?since=SEQ; in memory, the latest
// 500,000 to 1,000,000 changes). Changed and new trades live in an overlay over the derived seed.
//
// # Message channel (TMC)
//
// ws://HOST/tmc serves the frames of package tmc/wire. The handshake's sign
// is checked as TOP's md5 signature over app_key, group_name and timestamp
// (epoch ms, within 10 minutes); a refusal is a CONNECTACK with a status
// (choices, the platform's are not documented): 400 malformed or missing
// fields, 401 "invalid app_key" / "invalid timestamp" / "invalid sign", 404
// "group not exist: <name>". Later frames must carry the token (else the
// connection is closed).
//
// Messages are published for shops that called taobao.tmc.user.permit
// (Server.Permit in tests; topics filter, none means all), to the shop's
// group (taobao.tmc.group.add; "default" otherwise), from churn and from
// writes through the gateway: SKU price (taobao_item_ItemUpdate,
// changed_fields "price"), stock (ItemUpdate, "num"), channel product shelf
// (ItemUpshelf / ItemDownshelf about the product's item). Message ids start
// beyond 2^53; the seller's user_id is 2206571234567.
//
// Connections of a group share its queue: each message goes to one of
// them, round robin among those holding fewer than TMCOptions.Window (256)
// unconfirmed; it is pushed as it is published (TMCOptions.PullOnly: only
// in answer to a pull request) and on every pull request. A message not
// confirmed within TMCOptions.Redeliver (5 minutes) is delivered again; a
// connection that closes keeps its messages in flight until then, as the
// platform does. A failed message is delivered again after
// TMCOptions.FailDelay (10 s, a choice). TMCOptions.Duplicates publishes a
// share of messages twice (a second id, the same content). A group's queue
// holds at most 500,000 messages; past it the oldest expire (counted in
// TMCStats.Expired) so a churning sandbox nobody consumes from stays within
// memory. The HTTP APIs
// work on the same queues: messages.consume (quantity 10–200, default 100, a
// choice) takes from the group's queue, messages.confirm settles by id.
// GET /_sandbox/tmc returns TMCStats; POST /_sandbox/tmc/drop (DropTMC)
// drops every connection. Choices: a nick that has not permitted answers 15
// isv.user-not-exist (user.get, group.add); an unknown group 15
// isv.group-not-exist; user.permit needs the session, the others only the
// app.
package sandbox
