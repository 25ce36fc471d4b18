// Package archtest holds the test of the repository's architecture rules:
// the import rules of docs/ARCHITECTURE.md, read from that page, checked
// against `go list`. It has no code of its own.
package archtest
