package geo

import (
	"encoding/json"
	"fmt"
	"strings"
)

// wgs84Names are the "crs" names accepted as WGS84 lon/lat. RFC 7946
// dropped the member and fixed the CRS to CRS84; older exports (GDAL,
// QGIS) still write one of these.
var wgs84Names = []string{
	"urn:ogc:def:crs:OGC:1.3:CRS84",
	"urn:ogc:def:crs:OGC::CRS84",
	"http://www.opengis.net/def/crs/OGC/1.3/CRS84",
	"CRS84",
	"EPSG:4326",
	"urn:ogc:def:crs:EPSG::4326",
	"urn:ogc:def:crs:EPSG:4326",
	"http://www.opengis.net/def/crs/EPSG/0/4326",
}

// knownCRS names the projections Italian municipal exports commonly use,
// so the message says what the file is in.
var knownCRS = map[string]string{
	"3003":  "Monte Mario / Italy zone 1",
	"3004":  "Monte Mario / Italy zone 2",
	"3857":  "WGS 84 / Pseudo-Mercator",
	"4258":  "ETRS89",
	"25832": "ETRS89 / UTM zone 32N",
	"25833": "ETRS89 / UTM zone 33N",
	"32632": "WGS 84 / UTM zone 32N",
	"32633": "WGS 84 / UTM zone 33N",
	"6706":  "RDN2008",
}

// checkCRS returns "" if the GeoJSON 2008 "crs" member raw names WGS84
// lon/lat, and otherwise a message asking to reproject.
func checkCRS(raw json.RawMessage) string {
	if isNull(raw) {
		return ""
	}
	var crs struct {
		Type       string `json:"type"`
		Properties struct {
			Name string `json:"name"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(raw, &crs); err != nil || crs.Type != "name" || crs.Properties.Name == "" {
		return fmt.Sprintf(`"crs" is not a named CRS ({"type": "name", "properties": {"name": ...}}); only WGS84 lon/lat is supported: %s`, reprojectHint)
	}
	name := crs.Properties.Name
	for _, ok := range wgs84Names {
		if strings.EqualFold(name, ok) {
			return ""
		}
	}
	shown := fmt.Sprintf("%q", name)
	if code := epsgCode(name); code != "" {
		shown += " (EPSG:" + code
		if desc, ok := knownCRS[code]; ok {
			shown += " " + desc
		}
		shown += ")"
	}
	return fmt.Sprintf(`"crs" is %s, not WGS84 lon/lat: %s`, shown, reprojectHint)
}

// epsgCode extracts the EPSG code from names like "EPSG:3003",
// "urn:ogc:def:crs:EPSG::3003" or ".../def/crs/EPSG/0/3003".
func epsgCode(name string) string {
	up := strings.ToUpper(name)
	i := strings.LastIndex(up, "EPSG")
	if i < 0 {
		return ""
	}
	rest := up[i+4:]
	if j := strings.LastIndexAny(rest, ":/"); j >= 0 {
		rest = rest[j+1:]
	}
	if rest == "" || len(rest) > 6 || strings.Trim(rest, "0123456789") != "" {
		return ""
	}
	return rest
}
