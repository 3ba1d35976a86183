import Glibc
import LinuxSystem

/// A bundle's rootfs as a block device: the ext4 image the VM gets as its only extra drive (the guest's
/// /dev/vda, mounted read-only under a per-VM overlay).
public struct RootfsImage: Sendable, Equatable {
    /// `<cache>/<digest>.ext4`.
    public var path: String
    /// ``RootfsTree``'s digest of the directory (64 hex digits).
    public var digest: String
    /// False on a cache hit: the image already existed and mkfs did not run.
    public var built: Bool
    /// Seconds this call took: the metadata scan, plus waiting for and running the build when there was one.
    public var buildSeconds: Double

    public init(path: String, digest: String, built: Bool, buildSeconds: Double) {
        self.path = path; self.digest = digest; self.built = built; self.buildSeconds = buildSeconds
    }
}

/// Rootfs directories → cached ext4 images, built once per unchanged tree (see ``RootfsTree`` for what
/// "unchanged" means), so the second VM from the same bundle pays only the metadata scan.
///
/// Layout of `directory` (created 0700 like containerd's snapshot roots; images 0644, reached through it):
///   `<digest>.ext4`             a finished image; it appears only by `rename` after `fsync`, so its presence is
///                               the whole "done" protocol and a reader never sees a half image;
///   `.<digest>.lock`            held with `flock` while one caller builds; others wait, then find the image;
///   `.<digest>.tmp-XXXXXX`      the image being built. Any failure removes it; one left by a killed builder
///                               is removed by the next builder of that digest (which holds the lock).
/// Eviction is out of scope: images stay until removed by hand (any `<digest>.ext4` not attached to a running
/// VM may be deleted at any time; it is rebuilt when next needed).
public struct RootfsImageCache: Sendable {
    public static let defaultDirectory = "/var/lib/fc-supervisor/images"
    public static let defaultSearchPath = "/usr/sbin:/usr/bin:/sbin:/bin"

    public let directory: String
    /// Where `mkfs.ext4` is looked up (and mkfs's only environment).
    public var searchPath: String

    public init(directory: String = Self.defaultDirectory, searchPath: String = Self.defaultSearchPath) {
        self.directory = directory
        self.searchPath = searchPath
    }

    /// A change made in the same clock tick as the last recorded ctime would not move it (file timestamps come
    /// from the kernel's coarse clock, ticks of 1–10 ms): a tree changed less than this before its scan is
    /// scanned again once the window has passed, so that every later change moves some ctime.
    static let settleWindow: Int64 = 50_000_000

    /// The salt of every digest: a new image format must never be served from an old image's name.
    static let salt = "fc-runtime rootfs ext4 v1 " + RootfsImageBuilder.formatOptions.joined(separator: " ")

    /// The cached image of `rootfs`, built (once, whoever else asks concurrently) when missing.
    public func image(for rootfs: String) throws(OCIError) -> RootfsImage {
        let start = Clock.now()
        func seconds() -> Double { Double(Clock.nanoseconds(of: start.elapsed)) / 1e9 }
        let tree = try settledScan(rootfs)
        let path = directory + "/" + tree.digest + ".ext4"
        if Files.exists(path) { return RootfsImage(path: path, digest: tree.digest, built: false, buildSeconds: seconds()) }

        do { try Files.makeDirectories(directory, mode: 0o700) } catch {
            throw OCIError(.imageUnavailable, "cannot create the image cache \(directory): \(error.reason)", cause: error)
        }
        let lock = try acquireLock(directory + "/." + tree.digest + ".lock")
        defer { releaseLock(lock, directory + "/." + tree.digest + ".lock") }
        // Another caller may have built it while this one waited for the lock.
        if Files.exists(path) { return RootfsImage(path: path, digest: tree.digest, built: false, buildSeconds: seconds()) }
        try build(tree, from: rootfs, into: path)
        return RootfsImage(path: path, digest: tree.digest, built: true, buildSeconds: seconds())
    }

    /// ``RootfsTree/scan(_:salt:)``, repeated (at most 3 times) while its newest ctime is inside the settle window.
    func settledScan(_ rootfs: String) throws(OCIError) -> RootfsTree {
        var tree = try RootfsTree.scan(rootfs, salt: Self.salt)
        for _ in 0..<3 {
            let wait = tree.newestChange + Self.settleWindow - Clock.realtimeNanoseconds()
            guard wait > 0 else { break }
            // A ctime in the future (the clock was stepped back) is not waited for beyond one window.
            Clock.sleep(.nanoseconds(min(wait, Self.settleWindow)))
            tree = try RootfsTree.scan(rootfs, salt: Self.salt)
        }
        return tree
    }

    /// mkfs into a temporary file beside the image, fsync, rename, fsync the directory; nothing left on failure.
    private func build(_ tree: RootfsTree, from rootfs: String, into path: String) throws(OCIError) {
        let prefix = "." + tree.digest + ".tmp-"
        // Holding the lock, any temporary file of this digest is a killed builder's.
        for name in Directory.names(directory) where name.hasPrefix(prefix) { try? Files.remove(directory + "/" + name) }

        let (bytes, inodes) = RootfsImageBuilder.size(for: tree)
        let needed = RootfsImageBuilder.allocatedEstimate(for: tree)
        if let free = try? Files.availableBytes(directory), free < needed {
            throw OCIError(.imageUnavailable, "not enough space for the image of \(rootfs) in \(directory): "
                           + "needs about \(mebibytes(needed)) MiB, \(mebibytes(free)) MiB free")
        }
        let temporary: (fd: FileDescriptor, path: String)
        do { temporary = try Files.makeTemporaryFile(prefix: directory + "/" + prefix) } catch {
            throw OCIError(.imageUnavailable, "cannot create an image in \(directory): \(error.reason)", cause: error)
        }
        defer { temporary.fd.close() }
        do throws(OCIError) {
            do {
                try temporary.fd.truncate(to: bytes)
                try Files.changeMode(temporary.path, 0o644)
            } catch {
                throw OCIError(.imageUnavailable, "cannot size the image \(temporary.path): \(error.reason)", cause: error)
            }
            try RootfsImageBuilder.run(rootfs: rootfs, owner: tree.rootOwner, inodes: inodes,
                                       target: temporary.path, searchPath: searchPath)
            do {
                try temporary.fd.synchronize()
                try Files.rename(temporary.path, to: path)
            } catch {
                throw OCIError(.imageUnavailable, "cannot store the image \(path): \(error.reason)", cause: error)
            }
        } catch {
            try? Files.remove(temporary.path)
            throw error
        }
        // The rename is durable once the directory is: a crash after this returns cannot lose the image.
        if let dir = try? FileDescriptor.open(directory, flags: O_RDONLY | O_DIRECTORY) {
            try? dir.synchronize()
            dir.close()
        }
    }

    /// Opens and locks `path`, making sure the locked file is still the one at `path`: a previous holder
    /// unlinks it on release, and a waiter that locked the unlinked file must start over on a fresh one.
    private func acquireLock(_ path: String) throws(OCIError) -> FileDescriptor {
        while true {
            let fd: FileDescriptor
            do { fd = try FileDescriptor.open(path, flags: O_RDWR | O_CREAT, mode: 0o600) } catch {
                throw OCIError(.imageUnavailable, "cannot create the lock \(path): \(error.reason)", cause: error)
            }
            do { try fd.lockExclusive() } catch {
                fd.close()
                throw OCIError(.imageUnavailable, "cannot lock \(path): \(error.reason)", cause: error)
            }
            if let held = try? fd.status(), let current = try? Files.status(path),
               held.inode == current.inode && held.device == current.device {
                return fd
            }
            fd.close()
        }
    }

    /// Unlinks the lock file while still holding it (so no waiter can keep using it), then unlocks by closing.
    private func releaseLock(_ fd: FileDescriptor, _ path: String) {
        try? Files.remove(path)
        fd.close()
    }

    private func mebibytes(_ bytes: Int64) -> Int64 { (bytes + (1 << 20) - 1) >> 20 }
}
