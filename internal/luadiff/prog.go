package luadiff

import "strings"

// A Program is a generated Lua 5.1 chunk kept as a tree of statements, so
// that a divergence can be minimised by deleting or flattening statements
// and still print as valid Lua.
type Program struct {
	Seed  uint64 // the seed it was generated from (0 when parsed from text)
	Stmts Block
}

// A Block is a statement list.
type Block []*Stmt

// A Stmt is one statement. A simple statement has only Text; a compound
// one (if, loops, do, function bodies) has Parts, each a header line and
// a body, and a closing line End ("end", or "until cond" for repeat).
type Stmt struct {
	Text  string
	Parts []Part
	End   string
}

// A Part is a header line ("for i = 1, 3 do", "elseif x then", "else")
// and the block under it.
type Part struct {
	Head string
	Body Block
}

// Source prints the program as Lua text, one statement header per line.
func (p *Program) Source() string {
	var b strings.Builder
	printBlock(&b, p.Stmts, 0)
	return b.String()
}

func printBlock(b *strings.Builder, blk Block, depth int) {
	for _, s := range blk {
		indent := strings.Repeat("  ", depth)
		if s.Parts == nil {
			b.WriteString(indent)
			b.WriteString(s.Text)
			b.WriteByte('\n')
			continue
		}
		for _, p := range s.Parts {
			b.WriteString(indent)
			b.WriteString(p.Head)
			b.WriteByte('\n')
			printBlock(b, p.Body, depth+1)
		}
		b.WriteString(indent)
		b.WriteString(s.End)
		b.WriteByte('\n')
	}
}

// size is the number of statements in the tree.
func (blk Block) size() int {
	n := 0
	for _, s := range blk {
		n++
		for _, p := range s.Parts {
			n += p.Body.size()
		}
	}
	return n
}

// clone copies the tree (statements are copied; text is shared).
func (blk Block) clone() Block {
	if blk == nil {
		return nil
	}
	out := make(Block, len(blk))
	for i, s := range blk {
		c := &Stmt{Text: s.Text, End: s.End}
		if s.Parts != nil {
			c.Parts = make([]Part, len(s.Parts))
			for j, p := range s.Parts {
				c.Parts[j] = Part{Head: p.Head, Body: p.Body.clone()}
			}
		}
		out[i] = c
	}
	return out
}

func simple(text string) *Stmt { return &Stmt{Text: text} }

func compound(end string, parts ...Part) *Stmt { return &Stmt{Parts: parts, End: end} }
