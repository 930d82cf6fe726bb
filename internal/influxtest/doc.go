// Package influxtest starts a real InfluxDB 1.8.10 for Ponte's tests: the
// influxd binary on a free loopback port, with its data in the test's temp
// directory and a database "ponte" ready for writes through the v2
// compatibility endpoint (bucket "ponte/autogen").
//
// The binary is built once per checkout by deploy/bootstrap (which `make
// test` runs) into .tools/bin, or by hand with
//
//	go install github.com/influxdata/influxdb/cmd/influxd@v1.8.10
//
// and looked up on PATH, in the checkout's .tools/bin (testenv.ToolsBin,
// also under a plain `go test`) and in $(go env GOPATH)/bin. Start is an
// integration test's start: under -short it skips the test; without it a
// missing binary fails the test with that command.
//
// Stop kills the server (SIGKILL, a crash) and Start brings it back on the
// same port and data directory, so a test can take InfluxDB away in the
// middle of a run and check that nothing acknowledged was lost.
package influxtest
