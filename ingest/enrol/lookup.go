package enrol

// PasswordHash returns the bcrypt hash of enrolled gateway id's current
// password, and false when id is not enrolled or was revoked: the NATS
// auth callout's lookup (package natscallout), asked at each login.
func (r *Registry) PasswordHash(id string) ([]byte, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	g := r.st.Gateways[id]
	if g == nil || g.Revoked != nil || g.Bcrypt == "" {
		return nil, false
	}
	return []byte(g.Bcrypt), true
}
