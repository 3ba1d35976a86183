import CLinux
import Glibc

/// What a guest's PID 1 needs around a VM snapshot: empty-directory removal (cgroups), file-system freezing and
/// kernel RNG reseeding.
public enum GuestControl {
    /// rmdir(2): removes an empty directory (a cgroup v2 directory with no processes). A missing one is fine.
    public static func removeDirectory(_ path: String) throws(SystemError) {
        guard rmdir(path) == 0 || Glibc.errno == ENOENT else { throw SystemError.last("rmdir", path) }
    }

    /// FIFREEZE on the file system mounted at `mountPoint`: writes block and the disk is consistent until
    /// ``thawFilesystem(_:)``.
    public static func freezeFilesystem(_ mountPoint: String) throws(SystemError) {
        try filesystemControl(mountPoint, freeze: true)
    }

    /// FITHAW: undoes ``freezeFilesystem(_:)``.
    public static func thawFilesystem(_ mountPoint: String) throws(SystemError) {
        try filesystemControl(mountPoint, freeze: false)
    }

    private static func filesystemControl(_ mountPoint: String, freeze: Bool) throws(SystemError) {
        let fd = try FileDescriptor.open(mountPoint, flags: O_RDONLY | O_DIRECTORY)
        defer { fd.close() }
        let rc = clinux_fs_freeze(fd.rawValue, freeze ? 1 : 0)
        guard rc == 0 else { throw SystemError("ioctl", errno: -rc, "\(freeze ? "FIFREEZE" : "FITHAW") \(mountPoint)") }
    }

    /// RNDADDENTROPY (`bytes`, 1…4096, credited in full) then RNDRESEEDCRNG on `device`: after a snapshot restore
    /// two clones would otherwise draw the same random numbers until the kernel reseeds on its own.
    public static func reseedRandom(with bytes: [UInt8], device: String = "/dev/random") throws(SystemError) {
        guard (1...4096).contains(bytes.count) else { throw SystemError("RNDADDENTROPY", errno: EINVAL, "\(bytes.count) bytes") }
        let fd = try FileDescriptor.open(device, flags: O_WRONLY)
        defer { fd.close() }
        let added = bytes.withUnsafeBytes { clinux_rng_add_entropy(fd.rawValue, $0.baseAddress, $0.count) }
        guard added == 0 else { throw SystemError("ioctl", errno: -added, "RNDADDENTROPY") }
        let reseeded = clinux_rng_reseed(fd.rawValue)
        guard reseeded == 0 else { throw SystemError("ioctl", errno: -reseeded, "RNDRESEEDCRNG") }
    }
}
