package catalog

import (
	"errors"
	"testing"
)

// FuzzCheck checks arbitrary values of a method's own parameters (and
// arbitrary names) on any method. Invariants: nothing panics; a refusal is
// a *ValidationError naming the method, a parameter and a reason.
func FuzzCheck(f *testing.F) {
	names := Names()
	f.Add(uint16(5000), uint8(0), "tid", uint8(1), "1,2,x", "feilds", "{", false)
	f.Add(uint16(120), uint8(3), "99999999999999999999", uint8(9), "[{}]", "", "", true)
	f.Add(uint16(77), uint8(2), "2024-02-30 25:00:00", uint8(4), "true", "page_size", "-1", false)
	f.Fuzz(func(t *testing.T, pick uint16, i1 uint8, v1 string, i2 uint8, v2, k3, v3 string, file bool) {
		a, ok := Lookup(names[int(pick)%len(names)])
		if !ok {
			t.Fatal("a listed name not found")
		}
		params := map[string]string{k3: v3}
		files := map[string]bool{}
		if n := len(a.Params); n > 0 {
			params[a.Params[int(i1)%n].Name] = v1
			p2 := a.Params[int(i2)%n].Name
			if file {
				files[p2] = true
			} else {
				params[p2] = v2
			}
		}
		for _, ck := range []Checks{AllChecks, {}} {
			err := a.Check(params, files, ck)
			if err == nil {
				continue
			}
			var ve *ValidationError
			if !errors.As(err, &ve) || ve.Method != a.Method || ve.Param == "" || ve.Reason == "" || ve.Problem == "" {
				t.Fatalf("%s: %#v", a.Method, err)
			}
		}
	})
}
