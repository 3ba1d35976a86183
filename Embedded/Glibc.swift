// A module named Glibc for Embedded Swift builds (scripts/embedded-check.sh), which have the C library's headers
// (the clang module SwiftGlibc, the toolchain's SwiftGlibc.h) but not the Glibc overlay on top of them: the same
// sources' `import Glibc` then finds the same names. Only what the overlay adds and the sources use is here, with
// the overlay's signatures.
@_exported import SwiftGlibc

public var errno: Int32 {
    get { fc_embedded_errno() }
    set { fc_embedded_set_errno(newValue) }
}

public func open(_ path: UnsafePointer<CChar>, _ flags: Int32) -> Int32 { fc_embedded_openat(AT_FDCWD, path, flags, 0) }
public func open(_ path: UnsafePointer<CChar>, _ flags: Int32, _ mode: mode_t) -> Int32 {
    fc_embedded_openat(AT_FDCWD, path, flags, mode)
}
public func openat(_ dir: Int32, _ path: UnsafePointer<CChar>, _ flags: Int32) -> Int32 {
    fc_embedded_openat(dir, path, flags, 0)
}
public func openat(_ dir: Int32, _ path: UnsafePointer<CChar>, _ flags: Int32, _ mode: mode_t) -> Int32 {
    fc_embedded_openat(dir, path, flags, mode)
}

public func fcntl(_ fd: Int32, _ cmd: Int32) -> Int32 { fc_embedded_fcntl_int(fd, cmd, 0) }
public func fcntl(_ fd: Int32, _ cmd: Int32, _ value: Int32) -> Int32 { fc_embedded_fcntl_int(fd, cmd, value) }
public func fcntl(_ fd: Int32, _ cmd: Int32, _ pointer: UnsafeMutableRawPointer?) -> Int32 {
    fc_embedded_fcntl_ptr(fd, cmd, pointer)
}

public func ioctl(_ fd: Int32, _ request: UInt, _ pointer: UnsafeMutableRawPointer?) -> Int32 {
    fc_embedded_ioctl_ptr(fd, request, pointer)
}
public func ioctl(_ fd: Int32, _ request: UInt, _ value: Int32) -> Int32 { fc_embedded_ioctl_int(fd, request, value) }
public func ioctl(_ fd: Int32, _ request: UInt) -> Int32 { fc_embedded_ioctl_int(fd, request, 0) }

public var SIG_IGN: __sighandler_t? { fc_embedded_sig_ign() }
public var SIG_DFL: __sighandler_t? { fc_embedded_sig_dfl() }

// The file-type masks, typed as the overlay types them (C's are plain ints).
public var S_IFMT: mode_t { 0o170000 }
public var S_IFSOCK: mode_t { 0o140000 }
public var S_IFLNK: mode_t { 0o120000 }
public var S_IFREG: mode_t { 0o100000 }
public var S_IFBLK: mode_t { 0o060000 }
public var S_IFDIR: mode_t { 0o040000 }
public var S_IFCHR: mode_t { 0o020000 }
public var S_IFIFO: mode_t { 0o010000 }
