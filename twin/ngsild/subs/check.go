package subs

// CheckAllowedEndpoint checks one entry of Config.AllowedEndpoints, so
// that a configuration file can report a bad entry at its own line
// before a Manager is made.
func CheckAllowedEndpoint(s string) error {
	_, err := parsePattern(s)
	return err
}
