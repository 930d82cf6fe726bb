package serial

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/ponte-city/ponte/internal/profile"
)

// BenchmarkParse measures the pure pipeline — framer, checksum, parser —
// on streams of real-looking frames cut into 64-byte reads, and reports
// readings per second on one core.
func BenchmarkParse(b *testing.B) {
	rng := rand.New(rand.NewPCG(5, 6))
	nmea := func(body string) string {
		var x byte
		for i := 0; i < len(body); i++ {
			x ^= body[i]
		}
		return fmt.Sprintf("$%s*%02X\r\n", body, x)
	}
	cases := []struct {
		name string
		prof *profile.Profile
		line func(i int) string
	}{
		{"nmea_weather", weatherProfile(), func(i int) string {
			return nmea(fmt.Sprintf("WIMDA,29.9139,I,1.%04d,B,%.1f,C,,,%.1f,,9.4,C,%d.0,T,,M,6.6,N,%.1f,M", rng.IntN(300), rng.Float64()*30, rng.Float64()*100, rng.IntN(360), rng.Float64()*20))
		}},
		{"sum8_interval", intervalProfile(), func(i int) string {
			return string(intervalReply(int64(i)))
		}},
		{"csv_vehicle", vehicleProfile(), func(i int) string {
			return fmt.Sprintf("V;2024-05-14T08:15:02.310;%d;%.1f;%.1f;CAR\n", 1+i%3, 20+rng.Float64()*90, 2+rng.Float64()*15)
		}},
		{"regex_air", airProfile(), func(i int) string {
			return fmt.Sprintf("AQ 2024-05-14 08:15 NO2=%.1f O3=%.1f PM10=%d PM25=%d FLT=0\r\n", rng.Float64()*200, rng.Float64()*180, rng.IntN(90), rng.IntN(60))
		}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			var stream bytes.Buffer
			for i := range 1000 {
				stream.WriteString(c.line(i))
			}
			data := stream.Bytes()
			dec, err := newDecoder("bench", c.prof.Serial)
			if err != nil {
				b.Fatal(err)
			}
			at := time.Now()
			readings, bad := 0, 0
			b.SetBytes(int64(len(data)))
			b.ResetTimer()
			for b.Loop() {
				for off := 0; off < len(data); off += 64 {
					dec.feed(data[off:min(off+64, len(data))], at, func(ev *frameEvent) {
						readings += len(ev.readings)
						if ev.err != nil {
							bad++
						}
					})
				}
			}
			if bad > 0 || readings == 0 {
				b.Fatalf("%d bad frames, %d readings: the benchmark stream is broken", bad, readings)
			}
			b.ReportMetric(float64(readings)/b.Elapsed().Seconds(), "readings/s")
		})
	}
}
