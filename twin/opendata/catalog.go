package opendata

import (
	"fmt"
	"strings"
	"time"
)

// EU vocabularies (publications.europa.eu authority tables) the catalogue
// takes its codes from.
const (
	themeBase     = "http://publications.europa.eu/resource/authority/data-theme/"
	frequencyBase = "http://publications.europa.eu/resource/authority/frequency/"
	fileTypeBase  = "http://publications.europa.eu/resource/authority/file-type/"
	languageBase  = "http://publications.europa.eu/resource/authority/language/"
)

// Dataset is one dataset of a catalogue.
type Dataset struct {
	// ID names the dataset within its publisher: the dataset's IRI ends
	// with it, and its dct:identifier is "<IPA code>:<ID>" as DCAT-AP_IT
	// asks. Letters, digits, - and _.
	ID string
	// Title and Description describe it (It required).
	Title, Description Text
	// Themes are codes of the EU data theme vocabulary: TRAN, ENVI, REGI...
	Themes []string
	// Frequency is a code of the EU frequency vocabulary: UPDATE_CONT,
	// DAILY, IRREG...
	Frequency string
	// Keywords are added to the catalogue's (in Italian).
	Keywords []string
	// Start and End bound the time the data cover (dct:temporal); a zero
	// End is an open period (data still coming).
	Start, End time.Time
	// Modified is when the data last changed.
	Modified time.Time
	// Distributions are the files or API answers the data come as.
	Distributions []Distribution
}

// Distribution is one form a dataset comes in.
type Distribution struct {
	// Format is a code of the EU file type vocabulary: CSV, JSON, GEOJSON.
	Format string
	// Title describes this form (optional).
	Title Text
	// AccessURL is where the data are reached (required); DownloadURL,
	// if set, is a file to download directly.
	AccessURL, DownloadURL string
}

// Catalog builds cfg's DCAT-AP_IT catalogue of datasets, as of now (its
// dct:modified). It returns the problems of cfg (Validate) or of a
// dataset, naming the field, and builds nothing then.
func Catalog(cfg CatalogConfig, datasets []Dataset, now time.Time) (*Graph, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := checkDatasets(datasets); err != nil {
		return nil, err
	}
	c := cfg.withDefaults()
	b := &builder{g: &Graph{}, cfg: c, loc: c.location(), typed: map[string]bool{}}
	b.catalog(datasets, now)
	if err := b.g.Err(); err != nil {
		return nil, fmt.Errorf("opendata: build catalogue: %w", err)
	}
	return b.g, nil
}

// checkDatasets reports the problems of ds, naming each by index and ID.
func checkDatasets(ds []Dataset) error {
	var errs []string
	seen := map[string]bool{}
	for i, d := range ds {
		p := fmt.Sprintf("datasets[%d] (%s)", i, d.ID)
		if !ipaCode(strings.ReplaceAll(d.ID, "-", "_")) {
			errs = append(errs, p+".id: want letters, digits, - and _")
		} else if seen[d.ID] {
			errs = append(errs, p+".id: given twice")
		}
		seen[d.ID] = true
		if strings.TrimSpace(d.Title.It) == "" {
			errs = append(errs, p+".title.it: required")
		}
		if strings.TrimSpace(d.Description.It) == "" {
			errs = append(errs, p+".description.it: required")
		}
		if len(d.Themes) == 0 {
			errs = append(errs, p+".themes: at least one required (EU data theme codes such as TRAN)")
		}
		for j, t := range d.Themes {
			if !upperCode(t, 4) {
				errs = append(errs, fmt.Sprintf("%s.themes[%d]: %q: want an EU data theme code such as TRAN, ENVI, REGI", p, j, t))
			}
		}
		if !vocabCode(d.Frequency) {
			errs = append(errs, fmt.Sprintf("%s.frequency: %q: want an EU frequency code such as UPDATE_CONT or DAILY", p, d.Frequency))
		}
		if d.Start.IsZero() {
			errs = append(errs, p+".start: required (the start of the time the data cover)")
		}
		if !d.End.IsZero() && d.End.Before(d.Start) {
			errs = append(errs, p+".end: before start")
		}
		if len(d.Distributions) == 0 {
			errs = append(errs, p+".distributions: at least one required")
		}
		for j, x := range d.Distributions {
			q := fmt.Sprintf("%s.distributions[%d]", p, j)
			if !vocabCode(x.Format) {
				errs = append(errs, fmt.Sprintf("%s.format: %q: want an EU file type code such as CSV, JSON, GEOJSON", q, x.Format))
			}
			if err := checkHTTPURL(x.AccessURL); err != nil {
				errs = append(errs, fmt.Sprintf("%s.access_url: %v", q, err))
			}
			if x.DownloadURL != "" {
				if err := checkHTTPURL(x.DownloadURL); err != nil {
					errs = append(errs, fmt.Sprintf("%s.download_url: %v", q, err))
				}
			}
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("opendata: %s", strings.Join(errs, "\nopendata: "))
}

// vocabCode says whether s is a code of an EU authority table: upper-case
// letters, digits and _.
func vocabCode(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for _, r := range s {
		if !(r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_') {
			return false
		}
	}
	return true
}

// builder adds a catalogue's triples to g.
type builder struct {
	g     *Graph
	cfg   CatalogConfig
	loc   *time.Location
	blank int
	// typed are the vocabulary terms given their class already.
	typed map[string]bool
}

// newBlank returns a fresh blank node.
func (b *builder) newBlank(kind string) Term {
	b.blank++
	return blank(fmt.Sprintf("%s%d", kind, b.blank))
}

// text adds s p t.It@it and, when given, t.En@en.
func (b *builder) text(s Term, p string, t Text) {
	b.g.add(s, qn(p), langLit(t.It, "it"))
	if t.En != "" {
		b.g.add(s, qn(p), langLit(t.En, "en"))
	}
}

// date is t as an xsd:date in the catalogue's time zone.
func (b *builder) date(t time.Time) Term { return dateLit(t.In(b.loc).Format(time.DateOnly)) }

// term adds s p o, o an IRI of a vocabulary (a theme, a frequency...),
// and, the first time, o's class: AgID's validator checks the class of
// such values (rules 17, 20, 58, 84).
func (b *builder) term(s Term, p, o, class string) {
	b.g.add(s, qn(p), iri(o))
	if !b.typed[o] {
		b.typed[o] = true
		b.types(iri(o), class)
	}
}

// types adds s a each of qnames.
func (b *builder) types(s Term, qnames ...string) {
	for _, q := range qnames {
		b.g.add(s, qn("rdf:type"), qn(q))
	}
}

func (b *builder) catalog(datasets []Dataset, now time.Time) {
	c := b.cfg
	cat := iri(c.url("/opendata/catalog"))
	b.types(cat, "dcatapit:Catalog", "dcat:Catalog")
	b.text(cat, "dct:title", c.Title)
	b.text(cat, "dct:description", c.Description)
	pub := b.agent(c.Publisher, "publisher")
	b.g.add(cat, qn("dct:publisher"), pub)
	b.g.add(cat, qn("dct:modified"), b.date(now))
	b.term(cat, "dct:language", languageBase+c.Language, "dct:LinguisticSystem")
	b.term(cat, "foaf:homepage", c.Homepage, "foaf:Document")
	ids := make([]Term, len(datasets))
	for i, d := range datasets {
		ids[i] = iri(c.url("/opendata/dataset/" + d.ID))
		b.g.add(cat, qn("dcat:dataset"), ids[i])
	}
	b.agentNode(pub, c.Publisher)
	holder := pub
	if c.RightsHolder != c.Publisher {
		holder = b.agent(c.RightsHolder, "rights-holder")
		b.agentNode(holder, c.RightsHolder)
	}
	contact := iri(c.url("/opendata/contact"))
	b.types(contact, "dcatapit:Organization", "vcard:Organization", "vcard:Kind")
	b.g.add(contact, qn("vcard:fn"), lit(c.Contact.Name))
	b.g.add(contact, qn("vcard:hasEmail"), iri("mailto:"+c.Contact.Email))
	lic := iri(c.Licence.URL)
	b.types(lic, "dcatapit:LicenseDocument", "dct:LicenseDocument")
	b.g.add(lic, qn("foaf:name"), lit(c.Licence.Name))
	if c.Licence.Type != "" {
		b.g.add(lic, qn("dct:type"), iri(c.Licence.Type))
	}
	if c.Licence.Version != "" {
		b.g.add(lic, qn("owl:versionInfo"), lit(c.Licence.Version))
	}
	for i, d := range datasets {
		b.dataset(ids[i], d, pub, holder, contact, lic, now)
	}
}

// agent is the node of a: its URI, else one under the catalogue.
func (b *builder) agent(a Agent, name string) Term {
	if a.URI != "" {
		return iri(a.URI)
	}
	return iri(b.cfg.url("/opendata/" + name))
}

// agentNode describes a as node n.
func (b *builder) agentNode(n Term, a Agent) {
	b.types(n, "dcatapit:Agent", "foaf:Agent")
	b.g.add(n, qn("dct:identifier"), lit(a.IPACode))
	b.g.add(n, qn("foaf:name"), langLit(a.Name, "it"))
}

func (b *builder) dataset(id Term, d Dataset, pub, holder, contact, lic Term, now time.Time) {
	c := b.cfg
	b.types(id, "dcatapit:Dataset", "dcat:Dataset")
	b.g.add(id, qn("dct:identifier"), lit(c.Publisher.IPACode+":"+d.ID))
	b.text(id, "dct:title", d.Title)
	b.text(id, "dct:description", d.Description)
	for _, t := range d.Themes {
		b.term(id, "dcat:theme", themeBase+t, "skos:Concept")
	}
	b.g.add(id, qn("dct:publisher"), pub)
	b.g.add(id, qn("dct:rightsHolder"), holder)
	b.term(id, "dct:accrualPeriodicity", frequencyBase+d.Frequency, "dct:Frequency")
	modified := d.Modified
	if modified.IsZero() {
		modified = now
	}
	b.g.add(id, qn("dct:modified"), b.date(modified))
	b.term(id, "dct:language", languageBase+c.Language, "dct:LinguisticSystem")
	for _, k := range append(append([]string(nil), c.Keywords...), d.Keywords...) {
		b.g.add(id, qn("dcat:keyword"), langLit(k, "it"))
	}
	b.g.add(id, qn("dcat:contactPoint"), contact)
	period := b.newBlank("period")
	b.g.add(id, qn("dct:temporal"), period)
	var loc Term
	if c.Spatial != (Spatial{}) {
		loc = b.newBlank("location")
		b.g.add(id, qn("dct:spatial"), loc)
	}
	dists := make([]Term, len(d.Distributions))
	for i, x := range d.Distributions {
		dists[i] = iri(fmt.Sprintf("%s/distribution/%d-%s", id.value, i+1, strings.ToLower(x.Format)))
		b.g.add(id, qn("dcat:distribution"), dists[i])
	}
	// DCAT-AP_IT names the period's bounds dcatapit:startDate/endDate
	// (its guidelines and AgID's validator); DCAT 2 and DCAT-AP 2, which
	// harvesters of other profiles read, dcat:startDate/endDate. Both.
	b.types(period, "dct:PeriodOfTime")
	b.g.add(period, qn("dcatapit:startDate"), b.date(d.Start))
	b.g.add(period, qn("dcat:startDate"), b.date(d.Start))
	if !d.End.IsZero() {
		b.g.add(period, qn("dcatapit:endDate"), b.date(d.End))
		b.g.add(period, qn("dcat:endDate"), b.date(d.End))
	}
	if loc != (Term{}) {
		b.location(loc)
	}
	for i, x := range d.Distributions {
		n := dists[i]
		b.types(n, "dcatapit:Distribution", "dcat:Distribution")
		b.term(n, "dct:format", fileTypeBase+x.Format, "dct:MediaTypeOrExtent")
		if x.Title.It != "" {
			b.text(n, "dct:title", x.Title)
		}
		b.g.add(n, qn("dcat:accessURL"), iri(x.AccessURL))
		if x.DownloadURL != "" {
			b.g.add(n, qn("dcat:downloadURL"), iri(x.DownloadURL))
		}
		b.g.add(n, qn("dct:license"), lic)
	}
}

// location describes the catalogue's territory as node n.
func (b *builder) location(n Term) {
	s := b.cfg.Spatial
	b.types(n, "dct:Location")
	if s.Identifier != "" {
		b.g.add(n, qn("dcatapit:geographicalIdentifier"), lit(s.Identifier))
	}
	if s.Name != "" {
		b.g.add(n, qn("dcatapit:geographicalName"), langLit(s.Name, "it"))
	}
	if bb := s.BBox; bb != nil {
		f := func(x float64) string { return fmt.Sprintf("%.6f", x) }
		wkt := fmt.Sprintf("POLYGON((%[1]s %[2]s, %[3]s %[2]s, %[3]s %[4]s, %[1]s %[4]s, %[1]s %[2]s))",
			f(bb.Min[0]), f(bb.Min[1]), f(bb.Max[0]), f(bb.Max[1]))
		b.g.add(n, qn("dcat:bbox"), typedLit(wkt, ns("gsp:wktLiteral")))
	}
}
