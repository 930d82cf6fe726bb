package natscallout

import (
	"slices"
	"testing"

	"github.com/ponte-city/ponte/wire"
)

// TestPermissionsCommands: a gateway publishes its own reports and
// subscribes to its own commands, no other gateway's (issue 16).
func TestPermissionsCommands(t *testing.T) {
	pub, sub := Permissions(wire.Topics{Prefix: "ponte"}, "gw1")
	if !slices.Equal(pub, []string{"ponte.gw.gw1.up", "ponte.gw.gw1.status", "ponte.gw.gw1.report"}) {
		t.Errorf("publish %q", pub)
	}
	if !slices.Equal(sub, []string{"ponte.gw.gw1.ack", "ponte.gw.gw1.cmd"}) {
		t.Errorf("subscribe %q", sub)
	}
}
