package opendata

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ponte-city/ponte/twin"
)

// Defaults of RecorderConfig's zero fields.
const (
	DefaultInterval = 15 * time.Minute
	DefaultKeepDays = 365
)

// Source is what the recorder reads: twin.Reader has it.
type Source interface {
	Indicators() twin.Indicators
}

// DailyHeader returns the header row of the daily files. The columns
// follow /api/v1/indicators.csv, with the sample's time (UTC, RFC 3339)
// and day (Europe/Rome) first and the area's level.
func DailyHeader() []string {
	return []string{"time", "date", "area_id", "area_name", "level", "indicator", "value", "unit", "sensors", "window"}
}

// RecorderConfig configures a Recorder.
type RecorderConfig struct {
	// Dir is the folder of the daily files; each scope has a subfolder.
	Dir string
	// Scope names the files' subfolder: "all" for the platform, a
	// tenant's ID for a municipality. Letters, digits, - and _.
	Scope string
	// Interval is the time between samples; zero: DefaultInterval.
	Interval time.Duration
	// KeepDays is how many days of files are kept (today included);
	// older ones are deleted. Zero: DefaultKeepDays.
	KeepDays int
	// Areas, if not nil, keeps the areas it says true for (a tenant's);
	// nil keeps every area.
	Areas func(areaID string) bool
	// TimeZone is the IANA zone whose days the files are; empty:
	// Europe/Rome.
	TimeZone string
	// Metrics, if not nil, counts what the recorder does.
	Metrics *Metrics
}

// Validate reports the problems of c, naming the fields.
func (c RecorderConfig) Validate() error {
	var errs []error
	if c.Dir == "" {
		errs = append(errs, errors.New("opendata: recorder.dir: required"))
	}
	if !ipaCode(strings.ReplaceAll(c.Scope, "-", "_")) {
		errs = append(errs, fmt.Errorf("opendata: recorder.scope: %q: want letters, digits, - and _ (all, or a tenant's ID)", c.Scope))
	}
	if c.Interval < 0 || (c.Interval > 0 && c.Interval < time.Second) {
		errs = append(errs, fmt.Errorf("opendata: recorder.interval: %s: want at least 1s (zero: %s)", c.Interval, DefaultInterval))
	}
	if c.KeepDays < 0 {
		errs = append(errs, fmt.Errorf("opendata: recorder.keep_days: %d: want a positive number of days (zero: %d)", c.KeepDays, DefaultKeepDays))
	}
	if c.TimeZone != "" {
		if _, err := time.LoadLocation(c.TimeZone); err != nil {
			errs = append(errs, fmt.Errorf("opendata: recorder.time_zone: %q: want an IANA zone such as Europe/Rome: %v", c.TimeZone, err))
		}
	}
	return errors.Join(errs...)
}

// Recorder samples a Source's indicators every Interval and appends them
// to the day's file, <Dir>/<Scope>/indicators-YYYY-MM-DD.csv (the day in
// TimeZone), durably: each sample is one write and one fsync, so a
// sample is in the file whole or, after a crash in its middle, cut back
// to the last whole row when the recorder starts again. A restart
// continues the day's file. Files older than KeepDays are deleted.
// Sample and Run must not be called concurrently.
type Recorder struct {
	cfg  RecorderConfig
	src  Source
	log  *slog.Logger
	loc  *time.Location
	dir  string
	f    *os.File // the open day's file
	day  string   // its day, YYYY-MM-DD
	last string   // the day retention last ran for
}

// NewRecorder returns a recorder of src's indicators as cfg says.
func NewRecorder(cfg RecorderConfig, src Source, log *slog.Logger) (*Recorder, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Interval == 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.KeepDays == 0 {
		cfg.KeepDays = DefaultKeepDays
	}
	tz := cfg.TimeZone
	if tz == "" {
		tz = DefaultTimeZone
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return nil, fmt.Errorf("opendata: recorder: load time zone %s: %w", tz, err)
	}
	return &Recorder{cfg: cfg, src: src, log: log, loc: loc, dir: filepath.Join(cfg.Dir, cfg.Scope)}, nil
}

// Run samples every Interval until ctx ends, then closes the file. A
// failing sample is logged and counted; the next one tries again.
func (r *Recorder) Run(ctx context.Context) error {
	defer r.Close()
	t := time.NewTicker(r.cfg.Interval)
	defer t.Stop()
	for {
		if err := r.Sample(time.Now()); err != nil {
			r.log.Warn("open data sample failed", "scope", r.cfg.Scope, "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Sample appends the source's indicators as of now to now's day's file
// and deletes the files past KeepDays.
func (r *Recorder) Sample(now time.Time) error {
	day := now.In(r.loc).Format(time.DateOnly)
	rows := r.rows(now, day)
	if err := r.open(day); err != nil {
		r.cfg.Metrics.fail(r.cfg.Scope)
		return err
	}
	if len(rows) > 0 {
		if _, err := r.f.Write(rows); err != nil {
			r.cfg.Metrics.fail(r.cfg.Scope)
			r.closeFile()
			return fmt.Errorf("opendata: append to %s: %w", r.path(day), err)
		}
		if err := r.f.Sync(); err != nil {
			r.cfg.Metrics.fail(r.cfg.Scope)
			r.closeFile()
			return fmt.Errorf("opendata: fsync %s: %w", r.path(day), err)
		}
	}
	r.cfg.Metrics.sampled(r.cfg.Scope, bytes.Count(rows, []byte{'\n'}))
	if r.last != day {
		r.last = day
		if err := r.prune(now); err != nil {
			return err
		}
	}
	return nil
}

// rows renders one sample's rows as CSV.
func (r *Recorder) rows(now time.Time, day string) []byte {
	var buf bytes.Buffer
	cw := csv.NewWriter(&buf)
	at := now.UTC().Format(time.RFC3339)
	for _, ar := range r.src.Indicators().Areas {
		if r.cfg.Areas != nil && !r.cfg.Areas(ar.ID) {
			continue
		}
		for _, i := range ar.Indicators {
			v := ""
			if i.Value != nil && !isNaNOrInf(*i.Value) {
				v = strconv.FormatFloat(*i.Value, 'f', -1, 64)
			}
			_ = cw.Write([]string{at, day, safeCell(ar.ID), safeCell(ar.Name), safeCell(ar.Level), safeCell(i.Name), v,
				safeCell(i.Unit), strconv.Itoa(i.Sensors), safeCell(i.Window)})
		}
	}
	cw.Flush()
	return buf.Bytes()
}

// isNaNOrInf says whether f is not a finite number.
func isNaNOrInf(f float64) bool { return math.IsNaN(f) || math.IsInf(f, 0) }

// safeCell defuses a text cell a spreadsheet would run as a formula (CSV
// injection), as /api/v1/indicators.csv does: one starting with = + - @
// or a tab or CR gets a leading '.
func safeCell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// path is the file of day.
func (r *Recorder) path(day string) string { return filepath.Join(r.dir, dailyName(day)) }

// dailyName is the file name of day (YYYY-MM-DD).
func dailyName(day string) string { return "indicators-" + day + ".csv" }

// open makes r.f day's file, creating it with its header, or continuing
// it after its last whole row.
func (r *Recorder) open(day string) error {
	if r.f != nil && r.day == day {
		return nil
	}
	r.closeFile()
	if err := os.MkdirAll(r.dir, 0o755); err != nil {
		return fmt.Errorf("opendata: create %s: %w", r.dir, err)
	}
	path := r.path(day)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("opendata: open %s: %w", path, err)
	}
	if err := continueFile(f); err != nil {
		_ = f.Close()
		return fmt.Errorf("opendata: continue %s: %w", path, err)
	}
	r.f, r.day = f, day
	return nil
}

// continueFile positions f after its last whole row, cutting a partial
// row a crash left; an empty file gets the header, and its folder is
// synced so the new file survives a crash too.
func continueFile(f *os.File) error {
	st, err := f.Stat()
	if err != nil {
		return err
	}
	size := st.Size()
	if size == 0 {
		var buf bytes.Buffer
		cw := csv.NewWriter(&buf)
		_ = cw.Write(DailyHeader())
		cw.Flush()
		if _, err := f.Write(buf.Bytes()); err != nil {
			return err
		}
		if err := f.Sync(); err != nil {
			return err
		}
		return syncDir(filepath.Dir(f.Name()))
	}
	// Find the last newline from the end, a block at a time.
	end := size
	block := make([]byte, 4096)
	for end > 0 {
		n := int64(len(block))
		if n > end {
			n = end
		}
		if _, err := f.ReadAt(block[:n], end-n); err != nil && err != io.EOF {
			return err
		}
		if i := bytes.LastIndexByte(block[:n], '\n'); i >= 0 {
			end = end - n + int64(i) + 1
			break
		}
		end -= n
	}
	if end != size {
		if err := f.Truncate(end); err != nil {
			return err
		}
		if err := f.Sync(); err != nil {
			return err
		}
	}
	_, err = f.Seek(end, io.SeekStart)
	return err
}

// syncDir fsyncs a folder, so that a file created in it stays.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// prune deletes the files of days before now's day minus KeepDays-1.
func (r *Recorder) prune(now time.Time) error {
	y, m, d := now.In(r.loc).Date()
	oldest := time.Date(y, m, d-(r.cfg.KeepDays-1), 0, 0, 0, 0, time.UTC).Format(time.DateOnly)
	days, err := listDays(r.dir)
	if err != nil {
		return err
	}
	var errs []error
	for _, f := range days {
		if f.Day >= oldest {
			continue
		}
		if err := os.Remove(filepath.Join(r.dir, dailyName(f.Day))); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, fmt.Errorf("opendata: delete expired %s: %w", dailyName(f.Day), err))
			continue
		}
		r.cfg.Metrics.deleted(r.cfg.Scope)
		r.log.Info("open data file expired", "scope", r.cfg.Scope, "day", f.Day, "keep_days", r.cfg.KeepDays)
	}
	return errors.Join(errs...)
}

// closeFile closes the day's file, if open.
func (r *Recorder) closeFile() {
	if r.f != nil {
		_ = r.f.Close()
		r.f, r.day = nil, ""
	}
}

// Close closes the day's file. The recorder may sample again after it.
func (r *Recorder) Close() { r.closeFile() }

// Metrics counts what recorders do, by scope. Make one per registry with
// NewMetrics and give it to every recorder.
type Metrics struct {
	samples *prometheus.CounterVec
	errors  *prometheus.CounterVec
	rows    *prometheus.CounterVec
	expired *prometheus.CounterVec
}

// NewMetrics registers the recorders' metrics on reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	vec := func(name, help string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, []string{"scope"})
	}
	m := &Metrics{
		samples: vec("ponte_opendata_samples_total", "Indicator samples appended to the daily open data files."),
		errors:  vec("ponte_opendata_sample_errors_total", "Samples that could not be written to the daily files."),
		rows:    vec("ponte_opendata_rows_total", "Rows appended to the daily files."),
		expired: vec("ponte_opendata_files_expired_total", "Daily files deleted past their keep time."),
	}
	for _, c := range []prometheus.Collector{m.samples, m.errors, m.rows, m.expired} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("opendata: register metrics: %w", err)
		}
	}
	return m, nil
}

func (m *Metrics) sampled(scope string, rows int) {
	if m != nil {
		m.samples.WithLabelValues(scope).Inc()
		m.rows.WithLabelValues(scope).Add(float64(rows))
	}
}

func (m *Metrics) fail(scope string) {
	if m != nil {
		m.errors.WithLabelValues(scope).Inc()
	}
}

func (m *Metrics) deleted(scope string) {
	if m != nil {
		m.expired.WithLabelValues(scope).Inc()
	}
}
