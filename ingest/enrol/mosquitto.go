package enrol

import (
	"context"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha512"
	"encoding/base64"
	"fmt"
	"log/slog"
	"os/exec"
	"slices"
	"strings"
	"time"

	"github.com/ponte-city/ponte/internal/atomicfile"
	"github.com/ponte-city/ponte/wire"
)

// Mosquitto keeps a Mosquitto broker's password and ACL files in step
// with the registry, for deployments on Mosquitto rather than ingest's
// embedded broker. Ingest owns both files: it rewrites them whole (and
// atomically) at start and after every enrolment and revocation, then runs
// ReloadCommand, since Mosquitto reads them only at start and on SIGHUP
// (`systemctl reload mosquitto`, or `kill -HUP $(pidof mosquitto)`). On
// reload Mosquitto checks its connected clients against the new files and
// disconnects those no longer allowed.
//
// The password file holds ingest's own user and every enrolled gateway
// that is not revoked, with Mosquitto's own hash format (PBKDF2-SHA512,
// "$7$", as mosquitto_passwd writes it). The ACL file gives ingest its
// rights and each such gateway its own topics only, as explicit user
// blocks: a revoked gateway has none left, also when it holds a client
// certificate (a certificate cannot be taken back; its rights can).
type Mosquitto struct {
	// PasswordFile and ACLFile are the files Mosquitto's password_file
	// and acl_file name.
	PasswordFile, ACLFile string
	// ReloadCommand, if set, is run after the files change (argv; e.g.
	// ["systemctl", "reload", "mosquitto"]).
	ReloadCommand []string
	// IngestUser and IngestPassword are ingest's own credentials.
	IngestUser, IngestPassword string
	// Topics is the topic layout.
	Topics wire.Topics
	// Static are the gateways of ingest's configuration file (its site
	// configs and gateways:): their credentials are not ingest's to write
	// (a certificate, or a line Mosquitto's operators keep elsewhere), but
	// the ACL file, being ingest's, gives them their topics too.
	Static []string
	// Logger (default slog.Default()).
	Logger *slog.Logger
}

// mosquittoIterations is the PBKDF2 iteration count of the hashes written
// (mosquitto_passwd's default is 101; its -I option goes higher).
const mosquittoIterations = 10000

// mosquittoHash is password in Mosquitto 2's "$7$" format:
// $7$<iterations>$<base64 salt>$<base64 PBKDF2-HMAC-SHA512>.
func mosquittoHash(password string) string {
	salt := make([]byte, 12)
	rand.Read(salt)
	return mosquittoHashSalt(password, salt, mosquittoIterations)
}

func mosquittoHashSalt(password string, salt []byte, iter int) string {
	sum, err := pbkdf2.Key(sha512.New, password, salt, iter, sha512.Size)
	if err != nil {
		panic(err) // only for a key length FIPS mode refuses; sha512.Size is not one
	}
	return fmt.Sprintf("$7$%d$%s$%s", iter, base64.StdEncoding.EncodeToString(salt), base64.StdEncoding.EncodeToString(sum))
}

const mosquittoHeader = "# Written by ponte-ingest from its enrolment registry; edits are overwritten.\n"

// files returns the two files' contents for the gateways.
func (m *Mosquitto) files(gws map[string]*Gateway) (passwd, acl []byte) {
	ids := make([]string, 0, len(gws))
	for id, g := range gws {
		if g.Revoked == nil && g.Mosquitto != "" {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	var p, a strings.Builder
	p.WriteString(mosquittoHeader)
	p.WriteString(m.IngestUser + ":" + mosquittoHash(m.IngestPassword) + "\n")
	t := m.Topics
	a.WriteString(mosquittoHeader)
	fmt.Fprintf(&a, "\nuser %s\ntopic read %s\ntopic read %s\ntopic read %s\ntopic write %s\ntopic write %s\ntopic readwrite %s/ingest/#\n",
		m.IngestUser, t.Up("+"), t.Status("+"), t.Report("+"), t.Ack("+"), t.Cmd("+"), t.Prefix)
	for _, id := range ids {
		p.WriteString(id + ":" + gws[id].Mosquitto + "\n")
	}
	for _, id := range slices.Compact(slices.Sorted(slices.Values(append(slices.Clone(m.Static), ids...)))) {
		fmt.Fprintf(&a, "\nuser %s\ntopic write %s\ntopic write %s\ntopic write %s\ntopic read %s\ntopic read %s\n",
			id, t.Up(id), t.Status(id), t.Report(id), t.Ack(id), t.Cmd(id))
	}
	return []byte(p.String()), []byte(a.String())
}

// write rewrites both files and runs the reload command.
func (m *Mosquitto) write(gws map[string]*Gateway) error {
	passwd, acl := m.files(gws)
	if err := atomicfile.Write(m.PasswordFile, passwd, 0o640); err != nil {
		return fmt.Errorf("mosquitto password file: %w", err)
	}
	if err := atomicfile.Write(m.ACLFile, acl, 0o640); err != nil {
		return fmt.Errorf("mosquitto acl file: %w", err)
	}
	if len(m.ReloadCommand) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, m.ReloadCommand[0], m.ReloadCommand[1:]...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("mosquitto reload command %q: %w: %s", strings.Join(m.ReloadCommand, " "), err, strings.TrimSpace(string(out)))
	}
	log := m.Logger
	if log == nil {
		log = slog.Default()
	}
	log.Info("Mosquitto's password and ACL files rewritten and reloaded", "gateways", len(gws))
	return nil
}
