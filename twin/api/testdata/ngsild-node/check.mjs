// check.mjs: run by twin/api's TestNGSIWithJSONLDProcessor. It reads
// Ponte's NGSI-LD API as an outside client would, with FIWARE's ngsijs
// client (queryEntities, getEntity, listTypes), expands the answers with
// the jsonld.js processor, and prints what it got as one JSON object for
// the Go test to check. It never touches the internet: the processor's
// documentLoader serves Ponte's context from the server under test and
// fails on any other URL.
//
// usage: node check.mjs <base URL> <operator token> <entity id>
import { createRequire } from "node:module";
import jsonld from "jsonld";

const require = createRequire(import.meta.url);
const NGSI = require("ngsijs");

const [base, token, id] = process.argv.slice(2);
const contextURL = base + "/ngsi-ld/v1/contexts/ponte.jsonld";

// The NGSI-LD core @context is implied by every NGSI-LD answer (ETSI GS
// CIM 009 clause 5.5.7), so a client applies it itself. These are the
// core terms Ponte's answers use, with the IRIs the core context gives
// them, written out here so that the processor needs no network.
const ngsi = "https://uri.etsi.org/ngsi-ld/";
const core = {
  "@version": 1.1,
  id: "@id",
  type: "@type",
  Property: ngsi + "Property",
  GeoProperty: ngsi + "GeoProperty",
  value: ngsi + "hasValue",
  observedAt: { "@id": ngsi + "observedAt", "@type": ngsi + "DateTime" },
  unitCode: ngsi + "unitCode",
  location: ngsi + "location",
  Point: "https://purl.org/geojson/vocab#Point",
  coordinates: { "@id": "https://purl.org/geojson/vocab#coordinates", "@container": "@list" },
  "@vocab": ngsi + "default-context/",
};

const fetched = [];
const refused = [];
async function documentLoader(url) {
  if (url !== contextURL) {
    refused.push(url);
    throw new Error("documentLoader: no network; refusing " + url);
  }
  const res = await fetch(url);
  if (!res.ok) throw new Error("context " + url + ": status " + res.status);
  fetched.push(url);
  return { contextUrl: null, documentUrl: url, document: await res.json() };
}

const expand = (doc) => jsonld.expand(doc, { documentLoader, expandContext: { "@context": core } });

const conn = new NGSI.Connection(base, { headers: { Authorization: "Bearer " + token } });
const out = {};

// ngsijs asks for application/ld+json: @context is in each entity.
const query = await conn.ld.queryEntities({ type: "AirQualityObserved,ParkingSpot", count: true });
out.queryFormat = query.format;
out.queryCount = query.count;
out.queryIDs = query.results.map((e) => e.id);
out.queryContexts = [...new Set(query.results.map((e) => e["@context"]))];
out.expandedNormalized = await expand(query.results);

const one = await conn.ld.getEntity({ id, keyValues: true });
out.entityFormat = one.format;
out.expandedKeyValues = await expand(one.entity);

const types = await conn.ld.listTypes();
out.typeList = types.results.typeList;

try {
  await conn.ld.getEntity({ id: "urn:ngsi-ld:Thing:none" });
  out.missing = "found";
} catch (e) {
  out.missing = e.constructor.name;
}

// application/json: the context comes in the Link header.
const res = await fetch(base + "/ngsi-ld/v1/entities/" + encodeURIComponent(id) + "?options=keyValues", {
  headers: { Authorization: "Bearer " + token, Accept: "application/json" },
});
const link = res.headers.get("link") || "";
out.link = link;
const linked = link.match(/^<([^>]+)>/);
const plain = await res.json();
out.expandedLinked = await expand({ "@context": linked ? linked[1] : null, ...plain });

out.fetched = [...new Set(fetched)];
out.refused = refused;
process.stdout.write(JSON.stringify(out) + "\n");
