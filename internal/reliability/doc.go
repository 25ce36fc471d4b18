// Package reliability holds topscript's end-to-end reliability tests: the
// fault matrix (sandbox faults against paged reads, call_all and job
// writes, checked against the sandbox's own counters) and the load test (a
// second process hammering a sandbox through the client with faults on).
// It has no code of its own; RELIABILITY.md at the repository root records
// what the tests cover and the figures they produced.
package reliability
