package buffer

import (
	"io"
	"os"
)

// File is the part of *os.File the buffer uses. Implementations need not be
// safe for concurrent use except ReadAt, which the buffer calls from readers
// while the writer appends to another handle of the same file.
type File interface {
	io.ReaderAt
	io.Writer
	io.Closer
	// Sync makes everything written so far durable (fsync).
	Sync() error
	// Truncate cuts the file to size bytes.
	Truncate(size int64) error
	// Seek sets the offset of the next Write.
	Seek(offset int64, whence int) (int64, error)
	// Stat describes the file.
	Stat() (os.FileInfo, error)
}

// FS is the file-system seam of the buffer. The default, OSFS, is the
// operating system's; tests inject one that fails on demand to exercise the
// degraded mode. All names the buffer passes are full paths.
type FS interface {
	// OpenFile opens name like os.OpenFile. Opening a directory read-only
	// and calling Sync on it must fsync the directory.
	OpenFile(name string, flag int, perm os.FileMode) (File, error)
	// ReadDir lists a directory like os.ReadDir.
	ReadDir(name string) ([]os.DirEntry, error)
	// Remove deletes a file like os.Remove.
	Remove(name string) error
	// Rename renames a file like os.Rename.
	Rename(oldname, newname string) error
	// MkdirAll creates a directory and its parents like os.MkdirAll.
	MkdirAll(name string, perm os.FileMode) error
}

// OSFS is the operating system's file system.
type OSFS struct{}

// OpenFile implements FS.
func (OSFS) OpenFile(name string, flag int, perm os.FileMode) (File, error) {
	f, err := os.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return f, nil
}

// ReadDir implements FS.
func (OSFS) ReadDir(name string) ([]os.DirEntry, error) { return os.ReadDir(name) }

// Remove implements FS.
func (OSFS) Remove(name string) error { return os.Remove(name) }

// Rename implements FS.
func (OSFS) Rename(oldname, newname string) error { return os.Rename(oldname, newname) }

// MkdirAll implements FS.
func (OSFS) MkdirAll(name string, perm os.FileMode) error { return os.MkdirAll(name, perm) }

// syncDir fsyncs a directory so that creations, renames and removals in it
// survive a power cut.
func syncDir(fsys FS, dir string) error {
	d, err := fsys.OpenFile(dir, os.O_RDONLY, 0)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
