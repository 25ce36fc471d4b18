// Package archtest holds the test of the repository's architecture rules:
// the import rules of docs/ARCHITECTURE.md, read from that page, checked
// against `go list`, and that every document the code and the pages name
// (BENCHMARKS.md, docs/ARCHITECTURE.md, ...) is in the repository. It has
// no code of its own.
package archtest
