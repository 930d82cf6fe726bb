// Package subs is NGSI-LD subscriptions with HTTP notifications (ETSI GS
// CIM 009 clauses 5.2.12-5.2.15, 5.3.1, 5.8, 5.11 and the HTTP binding of
// 6.10-6.11): a FIWARE-based dashboard subscribes to entities of the twin
// and is POSTed their changes, taken from the twin's change stream
// (twin.Reader.Subscribe).
//
// A Manager serves POST and GET /ngsi-ld/v1/subscriptions and GET, PATCH,
// DELETE /ngsi-ld/v1/subscriptions/{id} (Handler), and delivers (Run).
// Authentication is the API's: Config.Scope gives the caller's
// twin.Scope.
//
// Decisions:
//   - Ownership: a subscription belongs to the scope key
//     (twin.Scope.Key) that created it. Another scope's subscription is
//     answered 404, as one that does not exist, and is absent from its
//     list. Notifications carry only entities the owner's scope sees
//     (Scope.Visible), checked at each change. A PATCH by the owner
//     refreshes the stored scope; after a restart the scope is rebuilt
//     with Config.ResolveScope, and one that cannot be rebuilt sees
//     nothing.
//   - Matching: entities[] by type, and id or idPattern (Go regexp, RE2,
//     linear time, anchored: it must match the whole entity ID, as
//     idPattern of GET /entities, so "ba-.*" does not select
//     "urn:ngsi-ld:X:ba-1"; write ".*ba-.*" for a part); q and geoQ with ngsild's parsers and matchers (the
//     same subset as GET /entities; geoQ.coordinates may be an array or a
//     string holding one; only the location geoproperty). Notifications
//     render ngsild.Represent in notification.format (normalized or
//     keyValues) with only notification.attributes when given.
//   - watchedAttributes: a change notifies only when a watched attribute
//     has a value other than the one last notified to that subscription
//     for that entity (values compared as JSON, first value counts as a
//     change). Without watchedAttributes every change of a selected
//     entity notifies (each change of the twin is an update of an
//     attribute or of the entity's freshness).
//   - throttling (seconds, fractional allowed): at most one notification
//     per period per subscription; the changes inside a period are
//     coalesced, the latest state of each entity winning, and sent
//     together when the period ends. A notification holds at most 100
//     entities; more are sent as several.
//   - A removed entity (twin.Change.Removed) that the subscription
//     selects in its last state is notified as {id, type, deletedAt}, the
//     shape of NGSI-LD 1.8's entityDeleted notifications.
//   - A restart of the change stream (a Change with Seq 0: changes were
//     lost) re-sends the current state of the selected entities whose
//     watched values differ from the last notified (all selected entities
//     without watchedAttributes). Removals lost in the gap are not sent.
//   - Status: "active", "paused" (isActive false) or "expired" (after
//     expiresAt; nothing is sent after it, queued notifications are
//     dropped). GET adds notification.timesSent (POST attempts),
//     timesFailed, consecutiveErrors, lastNotification, lastSuccess,
//     lastFailure, status ("ok"/"failed" from the last attempt) and
//     lastErrorReason. The counts are not persisted.
//   - Delivery: one goroutine per subscription POSTs its queue in order,
//     so a slow endpoint holds up only its own subscriptions. A queue
//     holds QueueSize notifications; when full the oldest is dropped and
//     counted (ponte_ngsild_notifications_dropped_total{reason=
//     "queue_full"}). Notifications are encoded when queued and bounded
//     in bytes too (the encoded data plus an envelope estimate):
//     QueueBytes (4 MiB) per subscription and TotalQueueBytes (256 MiB)
//     over all; over either the oldest are dropped (reason "bytes"), over
//     the total those of the largest queue, so a dead endpoint gives way
//     before a live one; ponte_ngsild_notifications_queued_bytes shows
//     the total. A failed POST (non-2xx, no answer within
//     DeliveryTimeout) is retried up to MaxAttempts with exponential
//     backoff (internal/backoff, equal jitter) from RetryBase to RetryMax;
//     a 429 or 503 with Retry-After waits what it says (capped at
//     RetryMax). Then the notification is dropped and counted. Metrics
//     have reason labels only, never a subscription ID.
//   - SSRF: an operator token must not make ingest POST to its own
//     network. endpoint.uri must match Config.AllowedEndpoints (URL
//     prefixes, or host:port with an optional "*." subdomain wildcard);
//     the empty list allows no endpoint at all, loopback included, since
//     ingest's neighbours (InfluxDB, the broker, metrics) listen there.
//     At dial time an internal address is refused unless a pattern names
//     that very IP (or localhost, for loopback) and port, so an allowed
//     host name re-pointed at 127.0.0.1 or 10.0.0.5 (DNS rebinding) gets
//     nothing. Internal is loopback, link-local (cloud metadata),
//     unspecified, multicast, private (RFC 1918 and ULA fc00::/7), CGNAT
//     100.64.0.0/10, 0.0.0.0/8, NAT64 (64:ff9b::/96, 64:ff9b:1::/48) and
//     IPv4-compatible ::/96, IPv4-mapped forms included: a dashboard on
//     the city's LAN is allowed by naming its IP ("10.1.2.3:8080"), not
//     its host name. An endpoint path with a backslash or a dot segment
//     ("." or "..", also percent-encoded, also "..;") is refused with 400
//     naming notification.endpoint.uri, since servers resolve such paths
//     differently and "/ngsi/../admin" would pass the prefix "/ngsi/";
//     prefixes are compared on the cleaned path. Redirects are not
//     followed, environment proxies are not used, and user information
//     in the URL is refused.
//   - The body: at most MaxBodyBytes (64 KiB: 413 beyond), Content-Type
//     application/json or application/ld+json (415 otherwise); @context
//     is accepted and ignored (Ponte's own context applies and is linked
//     in every notification: Link header for application/json, @context
//     member for application/ld+json). Members the specification defines
//     but Ponte does not implement (timeInterval, notificationTrigger,
//     temporalQ, scopeQ, csf, lang, sysAttrs, showChanges,
//     receiverInfo...) and read-only ones (status, timesSent...) are
//     refused with 400 naming them, as are unknown members: ignoring one
//     would leave a client believing it took effect (the house rule that
//     unknown fields are errors; Orion-LD likewise answers 400 to
//     members it does not know). The errors are ProblemDetails
//     BadRequestData whose detail starts with the member's path
//     (notification.endpoint.uri, geoQ.georel, entities[0].type...); q
//     and geoQ errors carry the parser's position.
//   - Subscription IDs are one namespace: an id given in a POST that
//     another scope already uses answers 409 like one of the caller's.
//     Client-chosen IDs should be unique (URNs with a UUID).
//   - Matching runs under the Manager's lock in the goroutine of Run; a
//     resync reads every entity of the subscribed types, so it holds the
//     lock for a while on a large twin (it is rare: the twin's stream
//     restarts only when a subscriber lagged past its retention).
//   - Limits: MaxSubscriptions over all scopes and MaxPerScope per scope
//     answer 403 OperationNotSupported naming the limit. An id given in
//     the body must be an absolute URI; one in use answers 409
//     AlreadyExists. PATCH (clause 5.8.2) replaces the members given,
//     null removes one, the members of notification merge one by one,
//     and the result is checked as a POST would be (so an expiresAt in
//     the past must be replaced).
//   - Persistence: with Config.Dir the subscriptions are one JSON file,
//     Dir/subscriptions.json (version 1), replaced atomically
//     (internal/atomicfile) at each create, patch and delete, and loaded
//     by New; a file that does not decode, or holds a subscription that
//     does not validate, is an error naming the file, the subscription
//     and the problem.
package subs
