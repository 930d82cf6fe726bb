// Package twin is Ponte's urban digital twin: the live state of sensor
// sites, road segments, areas and gateways, their freshness, and the
// indicators per area and for the whole city that operators and
// participation dashboards read.
//
// Ingest calls Apply once per newly durable batch (never for a replay), so
// the twin counts each reading once. Readers (the HTTP API in twin/api, the
// SSE stream) take snapshots and subscribe to changes; they never hold the
// twin's lock while writing to a client.
//
// Attribute names follow FIWARE Smart Data Models where one fits, so cities
// already on FIWARE recognise them.
//
// # Entities
//
// New makes an AdministrativeArea entity per feature of the areas layer
// (ID: the feature's ID, e.g. the ISTAT code 048017), a RoadSegment per
// road feature, a site per Site (its FIWARE type from its category, or
// from its NGSI-LD entity ID urn:ngsi-ld:Type:...), and a Device per
// gateway at the centroid of its sites. A site lies in Site.Area when that
// names an area's ID or name, else in the area containing its location
// (geo.Areas.Locate), and on the nearest road within RoadMaxMetres
// (geo.Roads.Nearest). Site configs name areas in the city's own terms
// ("Municipio I"); those that match no feature are logged and the site is
// placed by location. SitesFromInventory makes the sites from the
// gateways' site configs (the device inventory, internal/site).
//
// # Area levels
//
// Areas come in levels (Levels): the city, its municipalities (Config.Areas,
// ISTAT codes) and the districts a city draws (Firenze's quartieri, Bari's
// municipi; Config.AreaLevels, read by geo from the city's own GIS files
// in their native CRS). A site belongs to one area of each level, the one
// Site.Area names at that area's level and the containing one at the
// others; its Entity.Area is its municipality, or its finest area when it
// lies in no municipality. Every area's indicators are computed, and
// Indicators lists them coarsest level first, each with its Level; an
// area entity carries its level in Attrs["level"]. Entity IDs are unique
// across levels.
//
// Entities answers a bbox from an R-tree of the entities' bounds;
// snapshots share their Attrs maps, which are replaced, never modified, on
// each change.
//
// # The inventory
//
// Config.Sites is the starting set. SetGatewaySites replaces one
// gateway's sites while the twin runs (enrolment, re-enrolment): new
// devices become sites placed as above, changed ones move (keeping their
// readings where their entity ID stays), devices no longer listed are
// removed, and the areas, roads, gateways and indicators follow; the
// R-tree is rebuilt under the lock when entities come, go or move. A
// removal is streamed as a Change with Removed set.
//
// # The fleet
//
// Gateway entities carry their gateway's state, agent version, last seen,
// buffer depth, oldest unsent reading, devices up and bad (from its status
// messages: SetGatewayStatus) and whether its credentials are revoked
// (SetGatewayRevoked), as the attributes of fleet.go.
//
// # Readings
//
// mapping.go has the table from profile points to attributes per category
// (lanes summed to intensity in vehicles/h, percentages to ratios,
// congestion thresholds, the EEA air-quality band of eaqi.go). Bad-quality
// readings change nothing but a counter; readings older than a point's
// value are counted and ignored; readings of devices no site places are
// counted and ignored.
//
// # Freshness
//
// A site is Unknown until its first good reading, Fresh while that is at
// most StaleFactor x its interval old (Run calls Tick every TickInterval
// to notice), Stale after, and Offline while its gateway's last will
// stands (SetGatewayState). Only the gateway's own "online" status clears
// that: a batch of its last session can reach the twin after its will (it
// waits for InfluxDB first), and its readings, taken before it died, must
// not bring it back. Groups (roads over their traffic sites, areas and gateways over all
// their sites) are Fresh if one member is. Freshness is judged on the
// gateways' acquisition times against the twin's clock, so a gateway
// whose clock runs ahead looks fresher than it is: the edge agent's clock
// must be synchronised (NTP), as for the readings' timestamps in InfluxDB.
//
// # Indicators
//
// indicators.go defines each indicator (unit, window, definition). Each
// fresh site contributes to the sums of its area and the city; a reading
// or a freshness change replaces its contribution, so Indicators costs the
// number of areas, not of sites. Only fresh sensors count, and each
// indicator says how many it rests on.
//
// # Changes
//
// Every change of an entity gets the next Seq and is kept in a ring of
// History changes; the changes of one write form one batch at the end of
// a change log that every subscriber reads from its own cursor, filtering
// as it takes, so that a change costs the twin the same whatever the
// number of subscribers (a write appends a node and wakes the subscribers
// waiting for one). Seq starts at the
// clock's microseconds when the twin is made (a replica numbers after the
// applied stream instead: see Replicas), so a Last-Event-ID from an
// earlier run of the process is never mistaken for a recent one: it gets a
// resync. A subscriber more than SubscriberQueue changes of the twin
// behind (matching its filter or not) is dropped (its channel closed, or
// its Subscription's Dropped), never slowing Apply. Subscribe hands the
// changes over a channel, one by one; SubscribeBatches lets the caller
// take them in batches (the SSE streams: one wake per write instead of
// one channel hand-off per change and stream).
//
// # Replicas
//
// Several ingest instances each keep a twin fed from one replicated
// stream of applied batches (ingest/replica), so that any of them serves
// the whole city. Such a twin follows the stream (Follow, Restore,
// ApplyAt) and numbers its changes after it, the same on every instance:
// the changes caused by the batch at stream sequence s get
// s<<SeqShift | 1, | 2, ... in the order the batch makes them; the
// changes the twin makes on its own (freshness on Tick, gateway status,
// the inventory) continue that count, so they fall between the batch's
// and the next batch's. A restored twin starts at the snapshot's sequence
// with its count at half the range. A resume from Last-Event-ID starts
// at the beginning of that ID's stream sequence: another instance may
// have numbered one batch's changes differently (its groups' freshness,
// its own Tick), but every instance makes the changes of every batch in
// stream order, so replaying the whole batch misses no reading; the
// repeats are full entity states, which a client applies again
// harmlessly. An ID whose stream sequence the stream holds but the twin
// has not applied yet (the client came from an instance ahead of this
// one; the twin learns the stream's end from the messages it reads, so
// it allows some slack beyond) is honoured: the changes after it follow
// as the twin catches up (Resumes). An ID before the retained changes, or of a twin not
// replicated, gets a resync as before. Changes made at a batch's
// application use the time the stream stored it as the twin's clock, so
// replicas that applied the same batches hold the same sites and
// indicators; gateway fleet attributes (status, last seen) stay each
// instance's own.
//
// Measured on a shared 2-core Intel Xeon (go test -bench, figures vary with
// the machine's load):
//
//	BenchmarkApply (10,000 sites, 100-site batches)      ~740,000 readings/s
//	BenchmarkApply at 1,000, 10,000 and 100,000 sites    2.43, 2.45, 2.50 allocs
//	                                                     per reading: a reading
//	                                                     costs the same however
//	                                                     big the city (its site,
//	                                                     areas, road, gateway)
//	BenchmarkEntitiesBBox (1 km viewport of 10,000)      ~15 us per query (18 sites)
//	BenchmarkTwinMemory (10,000 sites with readings)     ~30 MB heap, shapes included
//	BenchmarkSetGatewaySites (100 of 10,000 sites, one moved)
//	                                                     ~15 ms per call (index repacked)
//	BenchmarkFanout (10,000 sites, 1,000 subscribers)    p50 1.0-1.5 ms, p99 38-157 ms
//	                                                     from Apply to every subscriber's
//	                                                     channel, 2,000 changes/s offered
//	                                                     (2M deliveries/s; shared machine)
package twin
