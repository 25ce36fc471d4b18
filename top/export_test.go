package top

// Identifiers of the internal tests that the external tests (package
// top_test) share.

// FakeClock is the tests' clock: it advances only when slept on and
// records every sleep.
type FakeClock = fakeClock

// NewFakeClock starts a FakeClock at t.
var NewFakeClock = newFakeClock
