package state

import "syscall"

// dropMapped drops the pages of the read-only shared mapping at
// [addr, addr+size) from the process (MADV_DONTNEED), leaving them in the
// page cache. The raw call takes the address as bbolt gives it (a
// uintptr), where syscall.Madvise would want a slice over it. Failure
// changes nothing but the RSS: it is ignored.
func dropMapped(addr, size uintptr) {
	_, _, _ = syscall.Syscall(syscall.SYS_MADVISE, addr, size, syscall.MADV_DONTNEED)
}
