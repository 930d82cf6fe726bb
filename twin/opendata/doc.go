// Package opendata publishes the twin's indicators as open data for
// Italian portals: a DCAT-AP_IT catalogue of the datasets Ponte publishes,
// and daily CSV files of the indicator history per area.
//
// # Catalogue
//
// Catalog builds one publisher's catalogue (CatalogConfig: the platform,
// or one municipality, a tenant, told apart by Prefix and Publisher) as a
// Graph, a small ordered triple model written by hand (no RDF library is
// among our dependencies): Turtle, N-Triples and JSON-LD come from the same
// triples, so they cannot disagree. Terms are checked as they are added:
// an IRI with a character an IRIREF may not hold (<>"{}|^`\, space,
// control) or a relative one, a malformed language tag, invalid UTF-8 are
// refused (Graph.Err), never written; literals are escaped as Turtle's
// ECHAR/UCHAR say. The JSON-LD has a @context of prefixes only and
// explicit value objects, so a processor needs nothing from the network
// and no term definition changes a value's meaning.
//
// Decisions, with their sources (the DCAT-AP_IT guidelines,
// github.com/italia/linee-guida-cataloghi-dati-dcat-ap-it, and AgID's
// validator rules, github.com/italia/daf-semantic-validator):
//   - Classes are given twice (dcatapit:Dataset and dcat:Dataset...), as
//     the guidelines' examples do, so DCAT-AP harvesters read them too.
//   - A dataset's dct:identifier is "<IPA code>:<ID>": the guidelines ask
//     for the IPA code before the local identifier.
//   - Themes, frequencies, file types and the language are IRIs of the EU
//     authority tables (publications.europa.eu/resource/authority/...),
//     each typed once (skos:Concept, dct:Frequency, dct:MediaTypeOrExtent,
//     dct:LinguisticSystem) because AgID's rules check those classes.
//   - The temporal coverage carries dcatapit:startDate/endDate (required
//     by the guidelines) and dcat:startDate/endDate (DCAT 2), as xsd:date.
//     Dates are days in the catalogue's time zone (Europe/Rome).
//   - The licence (CC BY 4.0 by default, as the public API's) is a
//     dcatapit:LicenseDocument named by its URL, with foaf:name, the ADMS
//     licence type as dct:type and owl:versionInfo.
//   - The publisher is also the rights holder unless RightsHolder is set;
//     the contact point is a dcatapit:Organization with vcard:fn and a
//     mailto: vcard:hasEmail.
//   - Datasets (Datasets): indicators per area (CSV and JSON of
//     /api/v1/indicators[.csv]), areas (/api/v1/areas.geojson), sensor
//     sites (GeoJSON at CatalogConfig.SitesURL, which ingest sets to its
//     public /api/v1/sites.geojson; left out when empty) and the daily
//     history files. URLs are BaseURL + Prefix + the route, so a
//     tenant's catalogue assumes its API is mounted under its prefix too.
//
// AgID publishes no SHACL shapes for DCAT-AP_IT; testdata/shacl holds
// shapes restating its validator's SPARQL rules (README.md there), and the
// integration test validates a real twin's catalogue against them with
// rdf-validate-shacl and compares the JSON-LD, expanded by jsonld.js, with
// the Turtle (the Node tool in shacl/).
//
// # Daily files
//
// A Recorder samples the indicators every Interval (15 minutes by
// default) and appends one row per area and indicator to
// <Dir>/<Scope>/indicators-YYYY-MM-DD.csv, the day in Europe/Rome: time
// (UTC, RFC 3339), date, area, level, indicator, value, unit, sensors,
// window (the columns of /api/v1/indicators.csv plus the sample's time and
// the level). Only areas go in (the city aggregate belongs to no tenant);
// a filter func keeps a tenant's. Each sample is one write and one fsync;
// a restart cuts a partial last row and continues the file; files older
// than KeepDays (365 by default) are deleted. Text cells that a
// spreadsheet would run as formulas get a leading ', as the API's CSV.
//
// Handler serves the catalogue (catalog.jsonld, catalog.ttl) and the files
// (daily/ index, daily/indicators-YYYY-MM-DD.csv) under a prefix the
// caller strips. A file name is parsed strictly (exact shape, a real date
// in canonical form), so no request names any other file; past days are
// served immutable, today's for a minute.
package opendata
