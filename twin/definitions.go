package twin

// Languages returns the languages the indicators' labels and definitions
// are written in, the default first (the shipped cities are Italian).
func Languages() []string { return []string{"it", "en"} }

// IndicatorDefinition is one indicator described for people, in one
// language: what the public page and the public API show once per answer
// rather than beside every area's value.
type IndicatorDefinition struct {
	// Name is the indicator's key (Indicator.Name).
	Name string `json:"name"`
	// Label is its short name, e.g. "Rumore (LAeq)".
	Label string `json:"label"`
	// Unit is the unit of its values (UCUM: "1/h", "dB", "1" for a ratio
	// or a band).
	Unit string `json:"unit"`
	// Definition says in words how the value is computed.
	Definition string `json:"definition"`
}

// IndicatorDefinitions returns the definitions of every indicator, in
// output order, in lang ("it" or "en"; any other is English).
func IndicatorDefinitions(lang string) []IndicatorDefinition {
	out := make([]IndicatorDefinition, len(indicatorDefs))
	for i, d := range indicatorDefs {
		out[i] = IndicatorDefinition{Name: d.name, Unit: d.unit, Label: d.labelEN, Definition: d.def}
		if lang == "it" {
			out[i].Label, out[i].Definition = d.labelIT, d.it
		}
	}
	return out
}
