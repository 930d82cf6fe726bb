package intake

import (
	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"
)

// MemoryStore returns paho's in-memory store, changed to keep and hand out
// copies of PUBLISH packets. paho v1.5.1's resume after a reconnect sets
// the DUP flag on the packet it gets from the store, which may be the
// very packet its writer goroutine is sending (a Publish queued just as
// the connection dropped), and the writer itself updates the packet it
// sends: a data race. With copies on the way in and out, neither touches
// a packet the other holds.
func MemoryStore() paho.Store { return copyStore{paho.NewMemoryStore()} }

type copyStore struct{ *paho.MemoryStore }

// Put implements paho.Store.
func (s copyStore) Put(key string, p packets.ControlPacket) {
	s.MemoryStore.Put(key, copyPublish(p))
}

// Get implements paho.Store.
func (s copyStore) Get(key string) packets.ControlPacket {
	return copyPublish(s.MemoryStore.Get(key))
}

func copyPublish(p packets.ControlPacket) packets.ControlPacket {
	if pub, ok := p.(*packets.PublishPacket); ok && pub != nil {
		cp := *pub
		return &cp
	}
	return p
}
