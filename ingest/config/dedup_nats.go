package config

import (
	"fmt"
	"net/url"
	"os"
	"time"

	"github.com/ponte-city/ponte/ingest/dedup"
	"github.com/ponte-city/ponte/internal/yamlconf"
)

// Dedup is where the dedup state lives: files in state_dir (one machine)
// unless nats is set.
type Dedup struct {
	// NATS, if set, keeps the state in a replicated JetStream key-value
	// bucket, shared by ingest instances on several machines (see
	// package dedup).
	NATS *DedupNATS `yaml:"nats"`
}

// DedupNATS is the key-value bucket of the dedup state (dedup.KVConfig).
// Authenticate with user and password, a token, or a credentials file,
// at most one way; password and token may be given as *_file or *_env
// (see secrets.go).
type DedupNATS struct {
	URLs         []string `yaml:"urls"`
	Bucket       string   `yaml:"bucket"`
	Replicas     int      `yaml:"replicas"`
	User         string   `yaml:"user"`
	Password     string   `yaml:"password"`
	PasswordFile string   `yaml:"password_file"`
	PasswordEnv  string   `yaml:"password_env"`
	Token        string   `yaml:"token"`
	TokenFile    string   `yaml:"token_file"`
	TokenEnv     string   `yaml:"token_env"`
	// Credentials is a NATS .creds file (JWT and NKey seed), relative to
	// this file's folder.
	Credentials string            `yaml:"credentials"`
	Timeout     yamlconf.Duration `yaml:"timeout"`
}

// KV returns the configuration of the dedup.KVStore, or false when the
// state is kept in files (dedup.FileStore in StateDir).
func (c *Config) KV() (dedup.KVConfig, bool) {
	if c.Dedup == nil || c.Dedup.NATS == nil {
		return dedup.KVConfig{}, false
	}
	n := c.Dedup.NATS
	kc := dedup.KVConfig{URLs: n.URLs, Bucket: n.Bucket, Replicas: n.Replicas, User: n.User, Password: n.Password,
		Token: n.Token, Timeout: n.Timeout.D()}
	if n.Credentials != "" {
		kc.CredentialsFile = c.resolve(n.Credentials)
	}
	return kc, true
}

// dedupSecretFields are the secret fields of dedup.nats.
func (c *Config) dedupSecretFields() []secretField {
	if c.Dedup == nil || c.Dedup.NATS == nil {
		return nil
	}
	n := c.Dedup.NATS
	return []secretField{
		{path: "dedup.nats.password", value: &n.Password, file: n.PasswordFile, env: n.PasswordEnv},
		{path: "dedup.nats.token", value: &n.Token, file: n.TokenFile, env: n.TokenEnv},
	}
}

// validateDedup checks dedup.nats.
func (c *Config) validateDedup(bad func(path, format string, args ...any)) {
	if c.Dedup == nil || c.Dedup.NATS == nil {
		return
	}
	n := c.Dedup.NATS
	const p = "dedup.nats."
	if len(n.URLs) == 0 {
		bad(p+"urls", "required: the NATS servers, e.g. [nats://10.0.0.1:4222, nats://10.0.0.2:4222]")
	}
	for i, s := range n.URLs {
		u, err := url.Parse(s)
		if err != nil || u.Host == "" || (u.Scheme != "nats" && u.Scheme != "tls" && u.Scheme != "ws" && u.Scheme != "wss") {
			bad(fmt.Sprintf("%surls[%d]", p, i), "%q is not a NATS URL (expected e.g. nats://host:4222)", s)
		}
	}
	if n.Bucket != "" && !dedup.ValidBucket(n.Bucket) {
		bad(p+"bucket", "%q (expected letters, digits, '-' and '_'; default %s)", n.Bucket, dedup.DefaultBucket)
	}
	if n.Replicas < 0 || n.Replicas > 5 {
		bad(p+"replicas", "%d (expected 1 to 5; default 3, for a three-node cluster)", n.Replicas)
	}
	ways := 0
	for _, set := range []bool{n.User != "" || n.Password != "", n.Token != "", n.Credentials != ""} {
		if set {
			ways++
		}
	}
	switch {
	case ways > 1:
		bad(p+"user", "give user and password, token or credentials, not several")
	case n.Password != "" && n.User == "":
		bad(p+"user", "required with a password")
	case n.User != "" && n.Password == "":
		bad(p+"password", "required with a user")
	}
	if n.Credentials != "" {
		if _, err := os.Stat(c.resolve(n.Credentials)); err != nil {
			bad(p+"credentials", "%q: no such file (expected a NATS .creds file)", n.Credentials)
		}
	}
	if d := n.Timeout.D(); d < 0 || (d > 0 && d < 100*time.Millisecond) {
		bad(p+"timeout", "%v (expected a duration of 100ms or more; default 5s)", d)
	}
}
