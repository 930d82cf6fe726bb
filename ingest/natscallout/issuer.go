package natscallout

import (
	"bytes"
	"errors"
	"fmt"
	"os"

	"github.com/nats-io/nkeys"
)

// NewIssuer makes a new account key pair for the auth callout and returns
// its seed (to keep secret: the seed file) and public key (the
// auth_callout's issuer in the nodes' configuration).
func NewIssuer() (seed []byte, public string, err error) {
	kp, err := nkeys.CreateAccount()
	if err != nil {
		return nil, "", fmt.Errorf("natscallout: new account key: %w", err)
	}
	if seed, err = kp.Seed(); err != nil {
		return nil, "", err
	}
	public, err = kp.PublicKey()
	return seed, public, err
}

// WriteIssuer writes a new issuer seed to path (mode 0600; an existing
// file is not replaced) and returns its public key.
func WriteIssuer(path string) (string, error) {
	seed, public, err := NewIssuer()
	if err != nil {
		return "", err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", fmt.Errorf("natscallout: %w (an existing seed is never replaced: its public key is in the nodes' auth_callout)", err)
	}
	_, err = f.Write(append(seed, '\n'))
	if err = errors.Join(err, f.Sync(), f.Close()); err != nil {
		os.Remove(path)
		return "", fmt.Errorf("natscallout: write %s: %w", path, err)
	}
	return public, nil
}

// LoadIssuer reads an issuer seed file: an account seed ("SA..."), alone
// or as nsc decorates it. A file others may read is refused. Errors name
// the file, never the seed.
func LoadIssuer(path string) (nkeys.KeyPair, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("issuer seed: %w (expected an account seed file; ponte-ctl nats-issuer FILE writes one)", err)
	}
	if st.Mode().Perm()&0o007 != 0 {
		return nil, fmt.Errorf("issuer seed %s: mode %v lets every user read it (expected 0600 or 0640: chmod o-rwx %s)", path, st.Mode().Perm(), path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("issuer seed: %w", err)
	}
	kp, err := nkeys.ParseDecoratedNKey(bytes.TrimSpace(data))
	if err != nil {
		return nil, fmt.Errorf("issuer seed %s: not an nkey seed (expected an account seed SA..., as ponte-ctl nats-issuer writes)", path)
	}
	if pub, err := kp.PublicKey(); err != nil || !nkeys.IsValidPublicAccountKey(pub) {
		return nil, fmt.Errorf("issuer seed %s: not an account seed (expected SA..., as ponte-ctl nats-issuer writes; a user or operator key cannot sign callout answers)", path)
	}
	return kp, nil
}
