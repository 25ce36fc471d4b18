// Package tmc is a consumer of TMC (消息服务), the platform's message
// channel: the platform pushes a message the moment a trade is created,
// paid, shipped or refunded, or an item changes. It needs no Lua:
//
//	c, err := tmc.New(tmc.Config{URL: "ws://mc.api.taobao.com/", AppKey: k, AppSecret: s},
//		func(ctx context.Context, m *tmc.Message) error {
//			// m.Topic, m.Content (JSON), m.ID, m.UserID (exact int64s)
//			return nil // confirms; an error fails it with the error as the reason
//		})
//	err = c.Run(ctx) // until ctx ends, then a clean stop
//
// # Protocol
//
// Binary WebSocket frames (package tmc/wire) over github.com/coder/websocket.
// The handshake is a CONNECT with app_key, group_name, timestamp (epoch
// milliseconds), sign and sdk; sign is TOP's md5 signature over the first
// three (Sign; or Config.Signer, e.g. a top.Client's Sign, which keeps the
// secret inside the client). A CONNECTACK with a status refuses it: Run returns a
// *RejectedError at once (a wrong key or secret does not heal by retrying).
// Pushed SEND frames carry a message in their headers (id, topic, content,
// time, publisher, nick, userid, outtime, dataid); content is a string, or a
// byte array of gzip-compressed JSON. Client frames carry the token and a
// kind: 1 pull request, 2 confirm (id), 20 failed (id, msg).
//
// # Behaviour
//
//   - Push, with pull requests as the fallback: one at connect, then every
//     PullEvery (5 s) while the queue has room.
//   - A handler returning nil confirms the message; an error (or a panic)
//     fails it with the error's text cut to 128 characters.
//   - Concurrency handlers; Queue messages may wait for one. When the queue
//     is full the reader stops reading (back-pressure: the server's window
//     fills and it sends to other consumers of the group).
//   - Messages about one trade (trade and refund messages, by the content's
//     tid; other messages by Message.Key) run one at a time, in arrival
//     order, so a handler that reads the trade and writes it never races
//     another run for the same trade within one consumer.
//   - Keep-alive by WebSocket ping every PingEvery (45 s); a ping that gets no
//     pong within PingTimeout ends the connection. No ping is sent while the
//     reader is held by back-pressure (it could not see the pong).
//   - Reconnect after any failure: ReconnectMin (3 s) doubled per failed
//     attempt up to ReconnectMax (15 s), each wait a random point in the
//     upper half of its step. Confirms and failures not yet written wait in
//     an outbox that outlives the connection and go out on the next.
//   - Clean stop (ctx ends): take no more; messages that arrive, and those
//     still waiting for a handler, are failed back at once with the reason
//     "consumer stopping" (so the channel hands them on without waiting for a
//     confirm timeout); running handlers finish (their ctx is cancelled after
//     StopTimeout); their confirms are written (StopTimeout more); close.
//     Messages the server had sent but the consumer had not read by then
//     come again after the channel's confirm timeout.
//
// # Choices where the platform's behaviour is unconfirmed
//
//   - Duplicates. The Java SDK drops a message that arrives within 1 s of one
//     for the same object (trade_<tid>, item_<num_iid>, refund_<refund_id>),
//     confirming it without the handler. Dropping a message whose earlier
//     twin has already been read by its handler can lose a change (the read
//     may predate it), so this consumer drops a message only when one with
//     the same key, topic and content arrived within DedupWindow (1 s) and
//     has not yet started its handler: that handler reads after both.
//     Otherwise the message runs, queued behind the first in its lane. A
//     second copy of a message id already in hand is dropped without a
//     confirm (the one in hand settles it). Both count in Stats.Duplicates.
//   - "__kind" and "id" are written as Int16 and Int64; reading, any integer
//     format or a decimal string is accepted, so ids stay exact either way.
//   - Delivery is at least once: a message whose confirm was lost with its
//     connection is delivered again by the server after its timeout (about 5
//     minutes on the platform); handlers must be idempotent (write by tid).
//   - The pull request carries no quantity; the server decides how many.
package tmc
