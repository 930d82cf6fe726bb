// Package yamlconf decodes Ponte's YAML files (device profiles, site configs,
// service configs) strictly, and makes their errors point at the file, line
// and field a person has to fix.
//
// Every YAML file in Ponte goes through Decode: unknown fields are errors (a
// misspelt "scale" must not silently read as 1.0), and validation code
// reports problems through Doc.Errorf with the field's path, so a technician
// sees "sdm630.yaml:41: modbus.points[7].type: unknown type "flaot32" (expected
// one of ...)" instead of a Go type name.
package yamlconf
