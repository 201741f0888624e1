package keystore

import (
	"io/fs"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// dirFiles stats the files of one directory by their names, through
// links, as os.Stat does. Here it opens the directory once and stats each
// name relative to it (fstatat): os.Stat of a file's whole path walks
// every component of the path again, which was half the cost of taking
// the tags of 2,000 stored certificates (BenchmarkStatInDir: 6.5 ms with
// os.Stat, 3.5 with fstatat). TestDirFiles compares it with os.Stat.
type dirFiles struct {
	dir string
	fd  int
}

func openDirFiles(dir string) (*dirFiles, error) {
	var fd int
	var err error
	for {
		fd, err = unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: dir, Err: err}
	}
	return &dirFiles{dir: dir, fd: fd}, nil
}

func (d *dirFiles) stat(name string) (fs.FileInfo, error) {
	info := &statInfo{name: filepath.Base(name)}
	var err error
	for {
		err = unix.Fstatat(d.fd, name, &info.st, 0)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		return nil, &fs.PathError{Op: "stat", Path: filepath.Join(d.dir, name), Err: err}
	}
	return info, nil
}

func (d *dirFiles) close() { unix.Close(d.fd) }

// statInfo is an fs.FileInfo of a unix.Stat_t, as os.Stat's of a
// syscall.Stat_t.
type statInfo struct {
	name string
	st   unix.Stat_t
}

func (i *statInfo) Name() string       { return i.name }
func (i *statInfo) Size() int64        { return i.st.Size }
func (i *statInfo) ModTime() time.Time { return time.Unix(i.st.Mtim.Unix()) }
func (i *statInfo) IsDir() bool        { return i.Mode().IsDir() }
func (i *statInfo) Sys() any           { return &i.st }

func (i *statInfo) Mode() fs.FileMode {
	m := fs.FileMode(i.st.Mode & 0o777)
	switch i.st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		m |= fs.ModeDir
	case unix.S_IFLNK:
		m |= fs.ModeSymlink
	case unix.S_IFIFO:
		m |= fs.ModeNamedPipe
	case unix.S_IFSOCK:
		m |= fs.ModeSocket
	case unix.S_IFBLK:
		m |= fs.ModeDevice
	case unix.S_IFCHR:
		m |= fs.ModeDevice | fs.ModeCharDevice
	}
	if i.st.Mode&unix.S_ISUID != 0 {
		m |= fs.ModeSetuid
	}
	if i.st.Mode&unix.S_ISGID != 0 {
		m |= fs.ModeSetgid
	}
	if i.st.Mode&unix.S_ISVTX != 0 {
		m |= fs.ModeSticky
	}
	return m
}
