package suggest

import "testing"

func TestDistance(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		d    int
	}{{"", "", 0}, {"abc", "", 3}, {"", "ab", 2}, {"kitten", "sitting", 3}, {"app_key", "app_kye", 2}, {"qps", "qps", 0}} {
		if got := Distance(tc.a, tc.b); got != tc.d {
			t.Errorf("Distance(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.d)
		}
	}
}

func TestClosest(t *testing.T) {
	keys := []string{"app_key", "app_secret", "session", "timeout"}
	for _, tc := range []struct{ s, want string }{
		{"app_kye", "app_key"}, {"APP_KEY", "app_key"}, {"sesion", "session"}, {"gateway", ""}, {"timeot", "timeout"},
	} {
		if got := Closest(tc.s, keys); got != tc.want {
			t.Errorf("Closest(%q) = %q, want %q", tc.s, got, tc.want)
		}
	}
}
