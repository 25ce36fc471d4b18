package xlsx

// SetSharedLimit sets the size above which shared strings are inlined, for
// tests that read small workbooks through that path; it returns a restore.
func SetSharedLimit(n uint64) func() {
	old := sharedLimit
	sharedLimit = n
	return func() { sharedLimit = old }
}

// InlinedCopy returns the path of the copy with inline strings that Open
// would read instead of path, or "" when Open reads path as it is. The
// caller removes the copy.
func InlinedCopy(path string, o Options) (string, error) {
	inl, err := inlineSharedStrings(path, o)
	if inl == nil {
		return "", err
	}
	return inl.path, err
}
