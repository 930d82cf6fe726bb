package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/ponte-city/ponte/ingest/broker"
	"github.com/ponte-city/ponte/ingest/config"
	"github.com/ponte-city/ponte/ingest/enrol"
	"github.com/ponte-city/ponte/ingest/service"
	"github.com/ponte-city/ponte/internal/site"
	"github.com/ponte-city/ponte/internal/throttle"
	"github.com/ponte-city/ponte/twin"
	"github.com/ponte-city/ponte/twin/api"
)

// inventory is the device inventory while ingest runs: the site configs
// of the configuration file, and with enrolment the registry's, rebuilt at
// every enrolment and revocation and handed on to the parts that follow
// it: the InfluxDB tags (meta), the service's known gateways and devices,
// the embedded broker's credentials and the twin's sites.
type inventory struct {
	cfg    *config.Config
	log    *slog.Logger
	static []*site.Site
	reg    *enrol.Registry // nil without enrolment
	ca     *enrol.CA       // nil without enrolment.ca
	cur    atomic.Pointer[site.Inventory]

	sitesMu  sync.Mutex
	enrolled map[string]*site.Site // the registry's sites, by gateway, as its changes said

	mu     sync.Mutex // serialises apply with attach
	svc    *service.Service
	broker *broker.Broker
	tw     *twin.Twin
}

// openInventory reads the configuration's inventory and, with enrolment,
// opens the registry (with enrolment.nats waiting for the cluster until
// ctx is done). close closes it.
func openInventory(ctx context.Context, cfg *config.Config, log *slog.Logger) (*inventory, error) {
	inv := &inventory{cfg: cfg, log: log.With("component", "inventory"), static: cfg.Inventory().Sites()}
	inv.cur.Store(cfg.Inventory())
	if cfg.Enrolment == nil {
		return inv, nil
	}
	ca, err := cfg.EnrolmentCA()
	if err != nil {
		return nil, fmt.Errorf("ingest: enrolment: %w", err)
	}
	inv.ca = ca
	dir, profiles, passwd, acl := cfg.EnrolmentPaths()
	ec := enrol.Config{Dir: dir, ProfilesDir: profiles, CA: ca, Check: inv.check, OnChange: inv.apply,
		Logger: log, NATS: cfg.EnrolmentKV()}
	enrolLimits(&ec, cfg.Enrolment, len(cfg.Tenants))
	if len(cfg.Tenants) > 0 {
		ec.CheckTenant = inv.checkTenant
	}
	if m := cfg.Enrolment.Mosquitto; m != nil {
		ec.Mosquitto = &enrol.Mosquitto{PasswordFile: passwd, ACLFile: acl, ReloadCommand: m.ReloadCommand,
			IngestUser: cfg.Broker.Username, IngestPassword: cfg.Broker.Password, Topics: cfg.Topics(), Logger: log,
			Static: slices.Concat(cfg.GatewayIDs(), slices.Collect(maps.Keys(cfg.Inventory().Devices())))}
	}
	if inv.reg, err = enrol.OpenContext(ctx, ec); err != nil {
		return nil, fmt.Errorf("ingest: %w", err)
	}
	// Every enrolled gateway at once: one inventory, not one per gateway
	// (with a bucket, changes from other instances may already come in:
	// WithChanges keeps them after this).
	inv.reg.WithChanges(func(cs []enrol.Change) { err = inv.rebuild(cs...) })
	if err != nil {
		inv.reg.Close()
		return nil, err
	}
	return inv, nil
}

// close closes the registry, if any.
func (inv *inventory) close() {
	if inv.reg != nil {
		inv.reg.Close()
	}
}

// rebuild makes the inventory of the static and enrolled site configs,
// with the sites of cs. (It keeps its own copy of the registry's sites:
// it runs inside the registry's OnChange, where the registry cannot be
// asked.)
func (inv *inventory) rebuild(cs ...enrol.Change) error {
	inv.sitesMu.Lock()
	defer inv.sitesMu.Unlock()
	if inv.enrolled == nil {
		inv.enrolled = map[string]*site.Site{}
	}
	for _, c := range cs {
		inv.enrolled[c.Gateway] = c.Site
	}
	ids := slices.Sorted(maps.Keys(inv.enrolled))
	all := slices.Clone(inv.static)
	for _, id := range ids {
		all = append(all, inv.enrolled[id])
	}
	i, err := site.NewInventory(all...)
	if err != nil {
		return fmt.Errorf("ingest: inventory: %w", err)
	}
	inv.cur.Store(i)
	return nil
}

// brokerTLS adds the enrolment CA to the embedded broker's TLS listener:
// gateways with a certificate it signed, current in the registry,
// connect without a password.
func (inv *inventory) brokerTLS(t broker.TLS) (broker.TLS, func(gateway, serial string) bool) {
	if inv.ca == nil {
		return t, nil
	}
	t.ClientCAs = inv.ca.Pool()
	return t, inv.reg.CertOK
}

// get returns the inventory now.
func (inv *inventory) get() *site.Inventory { return inv.cur.Load() }

// meta returns a device's area and type from the inventory now, for the
// InfluxDB tags.
func (inv *inventory) meta() func(gateway, device string) (area, typ string) {
	return func(gateway, device string) (string, string) {
		d, ok := inv.cur.Load().Device(gateway, device)
		if !ok {
			return "", ""
		}
		return d.Area, string(d.Category())
	}
}

// check says why a gateway ID cannot enrol: it has a site config or
// credentials in the configuration file, or the embedded broker refuses
// it.
func (inv *inventory) check(id string) error {
	for _, s := range inv.static {
		if s.Gateway.ID == id {
			return fmt.Errorf("gateway %q has its site config in ingest's configuration file (%s); remove it there to manage it by enrolment", id, s.File)
		}
	}
	if slices.Contains(inv.cfg.GatewayIDs(), id) {
		return fmt.Errorf("gateway %q has credentials in ingest's configuration file (gateways:); remove them there to manage it by enrolment", id)
	}
	inv.mu.Lock()
	b := inv.broker
	inv.mu.Unlock()
	if b != nil {
		return b.CheckGateway(id)
	}
	return nil
}

// gatewayIDs is the service's gateway list: the configuration's with the
// enrolled gateways added, or nil when the configuration lists none (any
// gateway the broker lets in is accepted).
func (inv *inventory) gatewayIDs() []string {
	ids := inv.cfg.GatewayIDs()
	if len(ids) == 0 {
		return nil
	}
	inv.sitesMu.Lock()
	defer inv.sitesMu.Unlock()
	return append(ids, slices.Sorted(maps.Keys(inv.enrolled))...)
}

// attach hands the registry's gateways to the parts once they exist; from
// then on every change reaches them. The service and the twin were built
// from the inventory, enrolled gateways included: only the broker's
// credentials and the twin's revoked marks are left to set.
func (inv *inventory) attach(svc *service.Service, b *broker.Broker, tw *twin.Twin) error {
	if inv.reg == nil {
		return nil
	}
	// Inside WithChanges, as the registry's changes come (its lock, then
	// mu): a change made on another instance meanwhile comes after.
	var err error
	inv.reg.WithChanges(func(changes []enrol.Change) {
		inv.mu.Lock()
		defer inv.mu.Unlock()
		inv.svc, inv.broker, inv.tw = svc, b, tw
		for _, c := range changes {
			if err = inv.credentials(c); err != nil {
				err = fmt.Errorf("ingest: enrolled gateway %s: %w", c.Gateway, err)
				return
			}
		}
	})
	return err
}

// apply is the registry's OnChange.
func (inv *inventory) apply(c enrol.Change) {
	if err := inv.rebuild(c); err != nil {
		inv.log.Error("inventory not rebuilt after an enrolment", "gateway", c.Gateway, "err", err)
	}
	if err := inv.deliver(c); err != nil {
		inv.log.Error("enrolment not applied everywhere", "gateway", c.Gateway, "err", err)
	}
}

// deliver hands one gateway's change to the service, the broker and the
// twin.
func (inv *inventory) deliver(c enrol.Change) error {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	if inv.svc == nil {
		return nil // not attached yet: attach delivers the registry's state
	}
	names := make([]string, len(c.Site.Devices))
	for i, d := range c.Site.Devices {
		names[i] = d.Name
	}
	inv.svc.SetGateway(c.Gateway, names)
	if inv.tw != nil {
		// Its tenant first, so that its tenant's streams see its sites come.
		inv.tw.SetGatewayTenant(c.Gateway, c.Tenant)
		one, err := site.NewInventory(c.Site)
		if err != nil {
			return err
		}
		if err := inv.tw.SetGatewaySites(c.Gateway, twin.SitesFromInventory(one)); err != nil {
			return err
		}
	}
	if err := inv.credentials(c); err != nil {
		return err
	}
	inv.log.Info("inventory updated", "gateway", c.Gateway, "devices", len(names), "revoked", c.Revoked, "rotated", c.Rotated)
	return nil
}

// credentials sets a gateway's credentials on the embedded broker and its
// revoked mark on the twin (after its sites: the mark lives on the
// gateway's entity); the caller holds mu.
func (inv *inventory) credentials(c enrol.Change) error {
	if inv.broker != nil {
		if c.Revoked {
			inv.broker.RemoveGateway(c.Gateway)
		} else if err := inv.broker.SetGateway(c.Gateway, c.PasswordHash); err != nil {
			return err
		}
	}
	if inv.tw != nil {
		inv.tw.SetGatewayTenant(c.Gateway, c.Tenant)
		inv.tw.SetGatewayRevokedAt(c.Gateway, c.Revoked, c.Since)
	}
	return nil
}

// checkTenant is the registry's CheckTenant: the twin knows the tenants
// and what ingest's configuration gives them.
func (inv *inventory) checkTenant(tenant, idOrPrefix string, prefix bool) error {
	inv.mu.Lock()
	tw := inv.tw
	inv.mu.Unlock()
	if tw == nil {
		return errors.New("the twin, which knows the tenants, is not running yet")
	}
	return tw.CheckTenantClaim(tenant, idOrPrefix, prefix)
}

// tenantOf is the tenant of a gateway, by ingest's configuration or its
// enrolment ("" without a twin).
func (inv *inventory) tenantOf(id string) string {
	inv.mu.Lock()
	tw := inv.tw
	inv.mu.Unlock()
	if tw == nil {
		return ""
	}
	return tw.TenantOf(id)
}

// registerEnrolment serves the registry's routes.
func (inv *inventory) register(mux *http.ServeMux, op func(http.Handler) http.Handler, guard *throttle.Guard, log *slog.Logger) {
	if inv.reg == nil {
		return
	}
	enrol.Register(mux, enrol.HTTPConfig{Registry: inv.reg, Operator: op, Guard: guard, Logger: log.With("component", "enrolment"),
		Caller: func(r *http.Request) ([]string, bool) {
			s := api.ScopeOf(r)
			return s.Tenants(), s.All()
		},
		GatewayTenant: inv.tenantOf})
}
