package ngsild

import "testing"

func TestParseQGood(t *testing.T) {
	for _, tc := range []struct{ q, canon, match string }{
		{`no2>40`, `no2>40`, "ba-cavour"},
		{`no2>=48`, `no2>=48`, "ba-cavour"},
		{`no2>48`, `no2>48`, ""},
		{`airQualityIndex<=2`, `airQualityIndex<=2`, "ba-cavour"},
		{`airQualityIndex<2`, `airQualityIndex<2`, ""},
		{`status=="occupied"`, `status=="occupied"`, "ba-p1"},
		{`status!="free"`, `status!="free"`, "ba-p1"},
		{`congested==true`, `congested==true`, "ba-lungomare"},
		{`congested!=false`, `congested!=false`, "ba-lungomare"},
		{`congested>false`, `congested>false`, ""},
		{`intensity`, `intensity`, "ba-lungomare"},
		{`averageVehicleSpeed<15;intensity>0`, `averageVehicleSpeed<15;intensity>0`, "ba-lungomare"},
		{`occupancy==1|no2>40`, `occupancy==1|no2>40`, "ba-cavour,ba-p1"},
		{`occupancy==1|(no2>40;co>1)`, `occupancy==1|(no2>40;co>1)`, "ba-p1"},
		{`((no2>1))`, `no2>1`, "ba-cavour"},
		{`!no2`, `!no2`, "ba-p1,ba-lungomare,gw-bari-1,fi-1,nowhere"},
		{`!no2;!status;name`, `!no2;!status;name`, "ba-lungomare,gw-bari-1"},
		{`(occupancy==1|no2>40);co>0.5`, `(occupancy==1|no2>40);co>0.5`, "ba-cavour"},
		{`temperature>-1.5e1`, `temperature>-15`, "nowhere"},
		{`name=="Corso Cavour"`, `name=="Corso Cavour"`, "ba-cavour"},
		{`name>"M"`, `name>"M"`, "ba-p1,gw-bari-1"}, // byte order: lower case after upper
		{`areaServed=="072006"`, `areaServed=="072006"`, "ba-cavour"},
		{`dateObserved>="2026-12-05T10:00:00Z"`, `dateObserved>="2026-12-05T10:00:00Z"`, "ba-cavour,ba-p1,ba-lungomare"},
		{`name=="a\"b\\c"`, `name=="a\"b\\c"`, ""},
		{`no2=="48"`, `no2=="48"`, ""}, // a string is not a number
		{`no2!="48"`, `no2!="48"`, "ba-cavour"},
		{`missing!=1`, `missing!=1`, ""}, // no attribute: false whatever the operator
	} {
		t.Run(tc.q, func(t *testing.T) {
			x, err := ParseQ(tc.q)
			if err != nil {
				t.Fatal(err)
			}
			if got := x.String(); got != tc.canon {
				t.Errorf("String() = %s, want %s", got, tc.canon)
			}
			if got := short(matching(x)); got != tc.match {
				t.Errorf("matches %q, want %q", got, tc.match)
			}
		})
	}
}

func TestParseQBad(t *testing.T) {
	for _, tc := range []struct{ q, detail string }{
		{``, "empty query"},
		{`no2>`, "at position 5: expected a number, a quoted string, true or false but found end of query"},
		{`no2=40`, "at position 4: expected an operator"},
		{`>40`, "at position 1: expected an attribute name"},
		{`no2>40;`, "at position 8: expected an attribute name but found end of query"},
		{`no2>40||o3>1`, "at position 8: expected an attribute name"},
		{`a==1|b==2;c==3`, "at position 10: ; (AND) and | (OR) mixed without parentheses"},
		{`a;b|c`, "at position 4: ; (AND) and | (OR) mixed"},
		{`!a==1`, "at position 3: ! (not exists) takes an attribute name alone"},
		{`!!a`, "at position 2: expected an attribute name"},
		{`!`, "at position 2: expected an attribute name but found end of query"},
		{`(no2>40`, "at position 8: expected ) but found end of query"},
		{`no2>40)`, "at position 7: unexpected \")\""},
		{`a.b==1`, "at position 2: attribute paths"},
		{`a[b]==1`, "at position 2: attribute paths"},
		{`a~="x.*"`, "at position 2: pattern operator ~= is not supported"},
		{`a!~="x"`, "at position 2: pattern operator !~= is not supported"},
		{`a==1,2`, "at position 5: value lists are not supported"},
		{`a==1..5`, "at position 5: ranges are not supported"},
		{`a==free`, "at position 4: expected a number, a quoted string"},
		{`a==truex`, "at position 4: expected a number"},
		{`a==2026-12-05`, "at position 4: malformed number \"2026-12-05\" (dates and times must be quoted)"},
		{`a==1.`, "at position 4: malformed number"},
		{`a=="open`, "at position 4: string not closed"},
		{`a=="\n"`, "at position 5: bad escape"},
		{`a == 1`, "at position 2: expected an operator"},
		{`a==1e999`, "at position 4: number \"1e999\" out of range"},
	} {
		t.Run(tc.q, func(t *testing.T) {
			_, err := ParseQ(tc.q)
			wantProblem(t, err, ErrBadRequestData, "q", tc.detail)
		})
	}
}

func TestParseQDepth(t *testing.T) {
	deep := ""
	for range 40 {
		deep += "("
	}
	_, err := ParseQ(deep + "a")
	wantProblem(t, err, ErrBadRequestData, "q", "at position 33: parentheses nested deeper than 32")
}
