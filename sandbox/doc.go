// Package sandbox is a local emulator of the Taobao Open Platform (TOP)
// gateway. Every test, example and benchmark of topscript runs against it.
//
// # Protocol
//
// Endpoints: /router/rest (GET or POST; query string and body merged, the
// body urlencoded or multipart/form-data, file parts left out of the sign),
// /router/batch, GET /_sandbox/stats, POST /_sandbox/reset and
// POST /_sandbox/ban?seconds=N.
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
// is 25; hex compared case-insensitively), 26 Missing session, 27 Invalid
// session (invalid-sessionkey) for the APIs that need one (every modelled
// API but taobao.time.get, and the catalog's methods whose session is
// "required"; a session given to any other method must still be valid),
// then bans and QPS (7), 40 Missing required arguments,
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
// # Data
//
// Deterministic from Options.Seed and the start time (Options.Now at New):
//   - seller "topscript沙箱旗舰店" with 320 items on sale: num_iid 12 digits
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
// # Load and faults
//
// Options.QPS limits calls per app key in a rolling one-second window (less
// 5% forgiven to network jitter);
// Options.Latency is slept per HTTP request; Options.Faults injects isp
// errors, HTTP 502, dropped connections (the call applied, no answer),
// truncated bodies (the call applied, half the body sent with a matching
// Content-Length) and 1–2 s bans. QPS windows, bans and latency use the real
// clock; Options.Now only dates data and checks timestamps.
package sandbox
