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

// crsMember reads a GeoJSON 2008 "crs" member: a named CRS
// ({"type": "name", "properties": {"name": ...}}) that ParseCRS knows. It
// returns a message instead when the member is malformed or the CRS is
// not supported.
func crsMember(raw json.RawMessage) (CRS, string) {
	var crs struct {
		Type       string `json:"type"`
		Properties struct {
			Name string `json:"name"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(raw, &crs); err != nil || crs.Type != "name" || crs.Properties.Name == "" {
		return CRS{}, fmt.Sprintf(`"crs" is not a named CRS ({"type": "name", "properties": {"name": "EPSG:3003"}}); supported are %s`, supportedList())
	}
	c, err := ParseCRS(crs.Properties.Name)
	if err != nil {
		return CRS{}, `"crs": ` + err.Error()
	}
	return c, ""
}

// sameCRSMember checks a feature's or geometry's own "crs" member
// against the layer's CRS: a layer is in one CRS.
func sameCRSMember(raw json.RawMessage, layer CRS) string {
	c, msg := crsMember(raw)
	if msg != "" {
		return msg
	}
	if c.Code != layer.Code {
		return fmt.Sprintf(`"crs" is %s but the layer is in %s: a layer file must use one CRS throughout`, c, layer)
	}
	return ""
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
