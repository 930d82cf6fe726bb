// Package version is the version every Ponte binary reports with
// --version, in one place so that ponte-edge, ponte-ingest, ponte-ctl,
// ponte-sim and ponte-demo of one build say the same thing.
//
// The version is, in order: what the build set with
//
//	go build -ldflags "-X github.com/ponte-city/ponte/internal/version.version=1.4.0"
//
// (packaging does), else the module version the Go toolchain recorded
// (go install ...@v1.4.0), else "dev-" and the first 12 hex digits of the
// VCS revision (with "-dirty" when the work tree had changes), else "dev".
package version
