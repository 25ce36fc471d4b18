package state

import (
	"sync/atomic"

	bolt "go.etcd.io/bbolt"
)

// The file store's mapped pages. bbolt reads the database through a
// read-only shared mapping of the whole file and writes it with pwrite, so
// every page it writes is in the page cache. Each page it reads through
// the mapping faults in, and Linux's fault-around maps the cached pages
// next to it as well (16 at a time): over a long job the process comes to
// map most of the pages the job wrote, its checkpoints, and they count in
// its RSS (RssFile) until bbolt next grows its mapping. Measured on a
// 100,000-row job: about a third of the state file's leaf pages mapped, a
// peak RSS 1.92x that of a 10,000-row job where the process's own memory
// grows 1.43x.
//
// So every releaseEvery operations the store lets the mapped pages go
// (madvise MADV_DONTNEED: the mapping is read-only and shared, so the
// pages stay in the page cache and the next read maps them again), and a
// scan does so every releaseEvery keys. It does it inside a transaction,
// where bbolt cannot move the mapping: a writer is the only one that
// remaps, and a reader holds the mapping in place. bbolt itself has no
// such option; this is the one place that knows it maps a file.

// releaseEvery is how many operations (or keys of a scan) the store lets
// go by between releases of its mapped pages: at about 8 rows a commit,
// a few MiB of a job's checkpoints.
const releaseEvery = 64

// mapped counts the operations since the mapped pages were last let go.
type mapped struct{ ops atomic.Int64 }

// tick counts an operation inside tx and, every releaseEvery, lets the
// mapped pages of the database go.
func (m *mapped) tick(tx *bolt.Tx) {
	if m.ops.Add(1)%releaseEvery == 0 {
		releaseMapped(tx)
	}
}

// releaseMapped lets go of the pages of tx's database mapped so far, up to
// the end of the pages in use (tx.Size: bbolt maps at least that much).
func releaseMapped(tx *bolt.Tx) {
	size := tx.Size()
	if size <= 0 {
		return
	}
	dropMapped(tx.DB().Info().Data, uintptr(size))
}
