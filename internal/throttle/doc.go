// Package throttle slows down the guessing of credentials: one token
// bucket (golang.org/x/time/rate) per source address, drained by failed
// authentication attempts. While an address's bucket is empty, its
// attempts are refused before their credentials are even looked at (the
// HTTP listeners answer 429 with Retry-After), so a guesser gets a few
// tries and then one per refill period, however fast it sends, and a
// check that costs CPU (bcrypt) is not run for it.
//
// Successful attempts and attempts without credentials give their token
// back: a legitimate client that authenticates often is never throttled,
// and only guesses spend the budget. Addresses are keyed by Key: an IPv4
// address, or the /64 of an IPv6 one (one subscriber's block), so that
// rotating addresses inside it gives no fresh budget. At most MaxKeys
// addresses are remembered; the least recently seen is forgotten first
// (it returns with a full bucket, as an idle one would have anyway).
//
// Every listener counts its failures in one metric,
// ponte_ingest_auth_failures_total{listener,reason}, registered once per
// registry by AuthFailures whichever listener comes first; throttled
// attempts count with reason "throttled". An address becoming throttled
// is logged once (Warn), not each refused attempt.
package throttle
