package app_test

import (
	"bytes"
	"io"
)

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }

// password is gateway id's MQTT password in writeConfig's configs, token
// its HTTP token (16 characters or more, as the config requires).
func password(id string) string { return "pw-" + id + "-0123456789abcdef" }
func token(id string) string    { return "tok-" + id + "-0123456789abcdef" }
