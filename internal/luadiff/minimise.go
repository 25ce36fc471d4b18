package luadiff

// Minimise shrinks p while interesting holds: it deletes statements,
// replaces compound statements by one of their bodies, drops elseif/else
// parts and empties bodies, greedily, until no edit keeps the program
// interesting. interesting(p) must hold on entry.
func Minimise(p *Program, interesting func(*Program) bool) *Program {
	cur := &Program{Seed: p.Seed, Stmts: p.Stmts.clone()}
	for changed := true; changed; {
		changed = false
		for at := 0; at < cur.Stmts.size(); at++ {
			for _, e := range editsAt(cur.Stmts, at) {
				next, ok := apply(cur.Stmts, e)
				if !ok {
					continue
				}
				cand := &Program{Seed: p.Seed, Stmts: next}
				if interesting(cand) {
					cur, changed = cand, true
					at-- // the statement now at this index gets its turn
					break
				}
			}
		}
	}
	return cur
}

type editOp int

const (
	opDelete    editOp = iota // remove the statement
	opFlatten                 // replace it by the body of part `part`
	opDropPart                // remove part `part` (an elseif or else)
	opEmptyBody               // empty the body of part `part`
)

type edit struct {
	op   editOp
	at   int // preorder index of the statement
	part int
}

// editsAt lists the edits worth trying on the statement at preorder index
// at, the biggest reductions first.
func editsAt(blk Block, at int) []edit {
	s := find(blk, at)
	if s == nil {
		return nil
	}
	edits := []edit{{op: opDelete, at: at}}
	for i, p := range s.Parts {
		if len(p.Body) > 0 {
			edits = append(edits, edit{op: opFlatten, at: at, part: i})
		}
	}
	for i := 1; i < len(s.Parts); i++ {
		edits = append(edits, edit{op: opDropPart, at: at, part: i})
	}
	for i, p := range s.Parts {
		if len(p.Body) > 0 {
			edits = append(edits, edit{op: opEmptyBody, at: at, part: i})
		}
	}
	return edits
}

// find returns the statement at preorder index at.
func find(blk Block, at int) *Stmt {
	var found *Stmt
	n := 0
	var walk func(Block) bool
	walk = func(b Block) bool {
		for _, s := range b {
			if n == at {
				found = s
				return true
			}
			n++
			for _, p := range s.Parts {
				if walk(p.Body) {
					return true
				}
			}
		}
		return false
	}
	walk(blk)
	return found
}

// apply returns a copy of blk with e applied.
func apply(blk Block, e edit) (Block, bool) {
	out := blk.clone()
	n := 0
	done := false
	var walk func(b Block) Block
	walk = func(b Block) Block {
		for i := 0; i < len(b) && !done; i++ {
			s := b[i]
			if n == e.at {
				done = true
				switch e.op {
				case opDelete:
					return append(b[:i:i], b[i+1:]...)
				case opFlatten:
					return append(append(b[:i:i], s.Parts[e.part].Body...), b[i+1:]...)
				case opDropPart:
					s.Parts = append(s.Parts[:e.part:e.part], s.Parts[e.part+1:]...)
					return b
				case opEmptyBody:
					s.Parts[e.part].Body = nil
					return b
				}
			}
			n++
			for j := range s.Parts {
				s.Parts[j].Body = walk(s.Parts[j].Body)
				if done {
					return b
				}
			}
		}
		return b
	}
	out = walk(out)
	return out, done
}
