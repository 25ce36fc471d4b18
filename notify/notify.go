// Package notify tells people when a run needs them: it sends alerts to a
// DingTalk robot, a WeCom robot, a generic JSON webhook or by email, for a
// failed job, a script error, a ban longer than max_ban_wait, or a session
// about to expire.
//
// A Dispatcher never blocks or fails its caller: Notify queues the alert
// for each target (a bounded queue; a full one drops the alert, counted and
// logged), each target sends from its own goroutine under its own rate
// limit with a timeout per send, and alerts that pile up while a target's
// limit holds them back go out together as one digest message. Flush waits
// for what is queued at the end of a run, up to a deadline. Secrets (robot
// tokens and signing secrets, webhook secrets, SMTP passwords, and the
// secrets passed in Options) are scrubbed from every error, log line and
// message.
//
// # Configuration
//
// Each [[notify]] table of topscript.toml is one Config:
//
//	[[notify]]
//	name   = "ops-group"             # for logs; default "<type> <n>"
//	type   = "dingtalk"              # dingtalk | wecom | webhook | email
//	url    = "https://oapi.dingtalk.com/robot/send?access_token=${DINGTALK_TOKEN}"
//	secret = "${DINGTALK_SECRET}"    # the robot's 加签 secret (SEC...); optional
//	on     = ["job_failed", "script_error", "ban", "session_expiring"]  # default: all
//	format = "markdown"              # or "text" (dingtalk, wecom)
//	at_mobiles = ["13800000000"]     # @ these members (dingtalk, wecom)
//	at_all = false                   # @ everyone (dingtalk)
//	per_minute = 20                  # sends a minute at most (default 20 for robots, 60 webhook, 6 email)
//	timeout = "10s"                  # per send
//
//	[[notify]]
//	type = "wecom"
//	url  = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=${WECOM_KEY}"
//
//	[[notify]]
//	type    = "webhook"              # POSTs the alert as JSON (see Payload)
//	url     = "https://ops.example.com/hooks/topscript"
//	secret  = "${HOOK_SECRET}"       # optional: X-Topscript-Signature: sha256=<hex HMAC of the body>
//	headers = {Authorization = "Bearer ${HOOK_TOKEN}"}
//
//	[[notify]]
//	type     = "email"
//	host     = "smtp.example.com"
//	port     = 587                   # default 587 (starttls), 465 (tls), 25 (none)
//	tls      = "starttls"            # starttls (required, the default) | tls | none
//	username = "alerts@example.com"
//	password = "${SMTP_PASSWORD}"
//	from     = "topscript <alerts@example.com>"
//	to       = ["ops@example.com"]
//
// Messages carry the word "topscript" in their title, so a DingTalk robot
// whose security setting is a keyword can use that keyword.
package notify

import (
	"fmt"
	"strings"
	"time"

	"github.com/topscript/topscript/toptime"
)

// Kind is what an alert is about.
type Kind string

// The kinds of alert.
const (
	JobFailed       Kind = "job_failed"       // a job finished with failed rows
	ScriptError     Kind = "script_error"     // a script ended with an error
	LongBan         Kind = "ban"              // a code-7 ban longer than max_ban_wait
	SessionExpiring Kind = "session_expiring" // a shop's session is about to expire
)

// Kinds lists every kind, in the order the docs give them.
var Kinds = []Kind{JobFailed, ScriptError, LongBan, SessionExpiring}

// describe is how a kind reads in a title.
func (k Kind) describe() string {
	switch k {
	case JobFailed:
		return "job failed"
	case ScriptError:
		return "script error"
	case LongBan:
		return "banned longer than max_ban_wait"
	case SessionExpiring:
		return "session about to expire"
	}
	return string(k)
}

// Event is one alert.
type Event struct {
	Kind Kind `json:"kind"`
	// Subject is what it is about: a script, a job, a shop
	// ("bulk_price.lua").
	Subject string `json:"subject,omitempty"`
	// Summary is one line: "37 of 10000 rows failed".
	Summary string `json:"summary,omitempty"`
	// Fields are details, in order: shop, exit code, report path, the
	// error codes seen.
	Fields []Field `json:"fields,omitempty"`
	// Time is when it happened; zero means when it was queued.
	Time time.Time `json:"time,omitzero"`
}

// Field is one detail of an event.
type Field struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Title is the event in one line: "topscript: job failed: bulk_price.lua".
func (e Event) Title() string {
	t := "topscript: " + e.Kind.describe()
	if e.Subject != "" {
		t += ": " + e.Subject
	}
	return oneLine(t)
}

// Text is the event as plain text: the title, the summary, the fields and
// the time, a line each.
func (e Event) Text() string {
	var b strings.Builder
	b.WriteString(e.Title())
	if e.Summary != "" {
		b.WriteString("\n" + e.Summary)
	}
	for _, f := range e.Fields {
		fmt.Fprintf(&b, "\n%s: %s", f.Name, f.Value)
	}
	if !e.Time.IsZero() {
		b.WriteString("\ntime: " + e.Time.In(toptime.Zone).Format(toptime.Layout))
	}
	return b.String()
}

// Markdown is the event as the Markdown DingTalk and WeCom render.
func (e Event) Markdown() string {
	var b strings.Builder
	b.WriteString("#### " + mdEscape(e.Title()) + "\n")
	if e.Summary != "" {
		b.WriteString("\n" + mdEscape(e.Summary) + "\n")
	}
	if len(e.Fields) > 0 {
		b.WriteString("\n")
	}
	for _, f := range e.Fields {
		fmt.Fprintf(&b, "- **%s**: %s\n", mdEscape(f.Name), mdEscape(f.Value))
	}
	if !e.Time.IsZero() {
		b.WriteString("\n" + e.Time.In(toptime.Zone).Format(toptime.Layout) + " (GMT+8)\n")
	}
	return b.String()
}

// digest merges alerts held back by a rate limit into one: its title
// counts them, its fields give each one's title and summary.
func digest(events []Event) Event {
	d := Event{Kind: events[0].Kind, Subject: fmt.Sprintf("%d alerts", len(events)), Time: events[len(events)-1].Time}
	kinds := map[Kind]int{}
	var order []Kind
	for _, e := range events {
		if kinds[e.Kind] == 0 {
			order = append(order, e.Kind)
		}
		kinds[e.Kind]++
	}
	parts := make([]string, len(order))
	for i, k := range order {
		parts[i] = fmt.Sprintf("%s ×%d", k.describe(), kinds[k])
	}
	d.Summary = strings.Join(parts, ", ")
	for _, e := range events {
		v := e.Summary
		if !e.Time.IsZero() {
			v = e.Time.In(toptime.Zone).Format("15:04:05") + " " + v
		}
		d.Fields = append(d.Fields, Field{Name: e.Title(), Value: v})
	}
	return d
}

// oneLine flattens line breaks: a title goes into a mail header.
func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.NewReplacer("\r", " ", "\n", " ").Replace(s)), " ")
}

// mdEscape keeps text from turning into Markdown markup.
var mdEscape = strings.NewReplacer(`\`, `\\`, "*", `\*`, "_", `\_`, "`", "\\`", "[", `\[`, "]", `\]`, "#", `\#`, "<", "&lt;", ">", "&gt;").Replace
