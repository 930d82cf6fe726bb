package enrol

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"time"

	"github.com/ponte-city/ponte/wire"
)

// A lost answer on a bad link must not cost the token: the technician's
// retry (the same Attempt) gets the same credentials. The registry keeps
// the answer sealed (AES-256-GCM) with a key derived from the token's
// secret, which it does not store: reading registry.json gives no
// password, and only the token's holder, who could have enrolled anyway,
// can open it, within replayWindow of the enrolment.

// replayWindow is how long a used token's answer can be asked again.
const replayWindow = time.Hour

func answerKey(secret string) []byte {
	k := sha256.Sum256([]byte("ponte enrolment answer\x00" + secret))
	return k[:]
}

// seal encrypts the answer with the secret's key.
func seal(resp wire.EnrolResponse, secret string) string {
	plain, _ := json.Marshal(resp)
	block, _ := aes.NewCipher(answerKey(secret))
	gcm, _ := cipher.NewGCM(block)
	nonce := make([]byte, gcm.NonceSize())
	rand.Read(nonce)
	return base64.StdEncoding.EncodeToString(gcm.Seal(nonce, nonce, plain, nil))
}

// replay opens a used token's answer for a retry of the same attempt.
func replay(t *Token, secret, attempt string, now time.Time) (wire.EnrolResponse, bool) {
	if t.Answer == "" || t.Used == nil || now.Sub(*t.Used) > replayWindow ||
		subtle.ConstantTimeCompare([]byte(hashSecret(attempt)), []byte(t.AttemptHash)) != 1 {
		return wire.EnrolResponse{}, false
	}
	raw, err := base64.StdEncoding.DecodeString(t.Answer)
	if err != nil {
		return wire.EnrolResponse{}, false
	}
	block, _ := aes.NewCipher(answerKey(secret))
	gcm, _ := cipher.NewGCM(block)
	if len(raw) < gcm.NonceSize() {
		return wire.EnrolResponse{}, false
	}
	plain, err := gcm.Open(nil, raw[:gcm.NonceSize()], raw[gcm.NonceSize():], nil)
	if err != nil {
		return wire.EnrolResponse{}, false
	}
	var resp wire.EnrolResponse
	if json.Unmarshal(plain, &resp) != nil {
		return wire.EnrolResponse{}, false
	}
	return resp, true
}
