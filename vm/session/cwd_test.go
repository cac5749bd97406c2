package session

import "testing"

func TestGuestCwd(t *testing.T) {
	tests := []struct {
		in, want string
		bad      bool
	}{
		{"", ".", false}, {".", ".", false}, {"a/b/", "a/b", false}, {"a/../b", "b", false},
		{"..", "", true}, {"../x", "", true}, {"/etc", "", true}, {"a/../../x", "", true},
	}
	for _, tt := range tests {
		got, err := guestCwd(tt.in)
		if (err != nil) != tt.bad || got != tt.want {
			t.Errorf("guestCwd(%q) = %q, %v", tt.in, got, err)
		}
	}
}
