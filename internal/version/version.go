package version

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"slices"
)

// version is set at link time with -ldflags "-X ...version.version=V";
// nothing else writes it.
var version = ""

// String is the build's version (see the package doc for where it comes
// from).
func String() string {
	bi, _ := debug.ReadBuildInfo()
	return fromBuild(version, bi)
}

// Line is what a binary prints for --version: its name, the version, and
// the Go toolchain and platform it was built for, e.g.
// "ponte-ctl 1.4.0 (go1.24.1 linux/arm64)".
func Line(program string) string {
	return fmt.Sprintf("%s %s (%s %s/%s)", program, String(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

// Asked reports whether the command line args (without the program name)
// ask for the version: -version or --version before any "--". Binaries
// whose flags are parsed elsewhere (ponte-sim's) check it first.
func Asked(args []string) bool {
	if i := slices.Index(args, "--"); i >= 0 {
		args = args[:i]
	}
	return slices.Contains(args, "--version") || slices.Contains(args, "-version")
}

// fromBuild picks the version from the link-time value and the build
// info (nil when the binary has none).
func fromBuild(linked string, bi *debug.BuildInfo) string {
	if linked != "" {
		return linked
	}
	if bi == nil {
		return "dev"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	rev, dirty := "", false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if len(rev) < 12 {
		return "dev"
	}
	v := "dev-" + rev[:12]
	if dirty {
		v += "-dirty"
	}
	return v
}
