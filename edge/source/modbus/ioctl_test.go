package modbus

import (
	"syscall"
	"unsafe"
)

// ioctlInt is an ioctl returning an int (FIONREAD), for tests only.
func ioctlInt(fd int, req uint) (int, error) {
	var v int32
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), uintptr(req), uintptr(unsafe.Pointer(&v))); e != 0 {
		return 0, e
	}
	return int(v), nil
}
