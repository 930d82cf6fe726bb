package geo

import (
	"sync"
	"testing"

	"github.com/paulmach/orb"
)

// TestConcurrentReads runs every query from several goroutines at once
// (meaningful under -race) and checks they agree with a serial run.
func TestConcurrentReads(t *testing.T) {
	areas := metroAreas(t)
	roads := fixtureRoads(t)
	pts := randomPointsInAreas(areas.Layer(), 500)
	type answer struct {
		area, road string
		n          int
	}
	ask := func(p orb.Point) answer {
		a, _ := areas.Locate(p)
		r, _, _ := roads.Nearest(p, 3000)
		return answer{a.ID, r.ID, len(areas.Query(orb.Bound{Min: p, Max: orb.Point{p[0] + 0.05, p[1] + 0.05}}))}
	}
	want := make([]answer, len(pts))
	for i, p := range pts {
		want[i] = ask(p)
	}
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := range pts {
				j := (i + g*61) % len(pts)
				if got := ask(pts[j]); got != want[j] {
					errs <- "goroutine disagrees with the serial answer"
					return
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}
