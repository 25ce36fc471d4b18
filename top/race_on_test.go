//go:build race

package top

// RaceEnabled reports a -race build: wall-clock pace tests are skipped, the
// detector slowing a loaded host by 10× makes them meaningless.
const RaceEnabled = true
