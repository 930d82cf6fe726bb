package ctl

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

func TestPasswordHash(t *testing.T) {
	cases := []struct {
		name, in string
		code     int
		errText  string
	}{
		{"ok", "correct-horse-battery\n", ExitOK, ""},
		{"no newline", "correct-horse-battery", ExitOK, ""},
		{"short", "short\n", ExitFail, "shorter than 12"},
		{"too long", strings.Repeat("x", 73) + "\n", ExitFail, "72 bytes"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := Run(context.Background(), Env{Stdin: strings.NewReader(c.in), Stdout: &out, Stderr: &errb}, []string{"password-hash"})
			if code != c.code || !strings.Contains(errb.String(), c.errText) {
				t.Fatalf("exit %d, stderr %q", code, errb.String())
			}
			if code != ExitOK {
				return
			}
			h := strings.TrimSpace(out.String())
			if err := bcrypt.CompareHashAndPassword([]byte(h), []byte("correct-horse-battery")); err != nil {
				t.Fatalf("hash %q does not verify: %v", h, err)
			}
			if cost, _ := bcrypt.Cost([]byte(h)); cost != hashCost {
				t.Fatalf("cost %d", cost)
			}
		})
	}
	var errb bytes.Buffer
	if code := Run(context.Background(), Env{Stdout: &errb, Stderr: &errb}, []string{"password-hash", "extra"}); code != ExitUsage {
		t.Fatalf("exit %d with an argument", code)
	}
}
