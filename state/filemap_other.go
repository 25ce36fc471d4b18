//go:build !linux

package state

// dropMapped does nothing where the release is not measured (Linux's
// fault-around is what maps a file store's pages in bulk).
func dropMapped(addr, size uintptr) {}
