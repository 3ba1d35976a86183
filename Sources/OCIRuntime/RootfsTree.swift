import LinuxSystem

/// One metadata scan of a rootfs directory: the digest that names its image, and the totals that size it.
///
/// The digest covers, for every entry (the root included; directories depth first, names sorted), from `lstat`
/// and never following a symlink: the path relative to the root, type, permission bits, uid, gid, size, mtime
/// and ctime in nanoseconds, inode, device number (rdev) and, for a symlink, its target. No file content is
/// read: a tree is the same tree while none of these moved. Any write, chmod, chown, rename, link or
/// replacement moves ctime (which `utimes` cannot set back) or the inode, so it changes the digest.
/// Limits: a change made within the same clock tick as the scan can leave ctime unmoved — the cache waits
/// out that window (``RootfsImageCache``); extended attributes are not in the digest (setting one moves
/// ctime); the tree's device number is not either, so a copy on another file system is a different tree only
/// through its inodes and ctimes, which a copy cannot keep.
struct RootfsTree: Sendable {
    /// Lower-case hex SHA-256 of `salt` and the records above.
    var digest: String
    /// Files, directories, links and nodes, the root included.
    var entries: Int
    /// Regular files' sizes rounded up to 4 KiB blocks, each inode counted once (hard links share data).
    var dataBytes: Int64
    /// ext4 directory blocks: per directory its entries at 8 bytes + the name rounded up to 4, plus one block
    /// (the rounding up and an htree index block for large directories).
    var directoryBytes: Int64
    /// Symlinks whose target does not fit in the inode (60 bytes or more) take a data block.
    var longSymlinks: Int
    /// The newest ctime seen, nanoseconds since the epoch.
    var newestChange: Int64
    /// The root directory's owner (the image root's owner).
    var rootOwner: (uid: UInt32, gid: UInt32)

    static let blockSize: Int64 = 4096

    /// Walks `root` (a directory; a symlink to one is followed only at the top). `salt` goes into the digest
    /// first, so that a change of image format names new images.
    static func scan(_ root: String, salt: String) throws(OCIError) -> RootfsTree {
        let top: FileStatus
        do { top = try Files.status(root, followingSymlinks: true) } catch {
            throw OCIError(.invalidRootfs, "cannot stat rootfs \(root): \(error.reason)", cause: error)
        }
        guard top.type == .directory else { throw OCIError(.invalidRootfs, "rootfs \(root) is not a directory") }
        var hasher = RootfsSHA256()
        hasher.update(Array(salt.utf8) + [0])
        var tree = RootfsTree(digest: "", entries: 0, dataBytes: 0, directoryBytes: 0, longSymlinks: 0, newestChange: 0,
                               rootOwner: (top.uid, top.gid))
        var seenInodes = Set<UInt64>()
        var record: [UInt8] = []
        record.reserveCapacity(256)

        func add(_ relative: String, _ status: FileStatus, target: String?) {
            record.removeAll(keepingCapacity: true)
            record.append(contentsOf: relative.utf8)
            record.append(0)
            record.append(typeCode(status.type))
            // Eight little-endian 64-bit fields in a fixed order.
            let fields = (UInt64(status.permissions).littleEndian, UInt64(status.uid).littleEndian,
                          UInt64(status.gid).littleEndian, UInt64(bitPattern: status.size).littleEndian,
                          UInt64(bitPattern: status.modifiedNanoseconds).littleEndian,
                          UInt64(bitPattern: status.changedNanoseconds).littleEndian,
                          status.inode.littleEndian, status.deviceNumber.littleEndian)
            withUnsafeBytes(of: fields) { record.append(contentsOf: $0) }
            if let target { record.append(contentsOf: target.utf8) }
            record.append(0)
            hasher.update(record)
            tree.entries += 1
            tree.newestChange = max(tree.newestChange, status.changedNanoseconds)
            switch status.type {
            case .regular:
                if status.links < 2 || seenInodes.insert(status.inode).inserted {
                    tree.dataBytes += (status.size + blockSize - 1) / blockSize * blockSize
                }
            case .symbolicLink where status.size >= 60:
                tree.longSymlinks += 1
            default: break
            }
        }

        add(".", top, target: nil)
        // Depth first with an explicit stack (no recursion limit on deep trees); children pushed in reverse so
        // that they come off in sorted order.
        var pending: [String] = [""]
        while let relative = pending.popLast() {
            let directory = relative.isEmpty ? root : root + "/" + relative
            let listing: [Directory.Entry]
            do { listing = try Directory.entries(directory) } catch {
                throw OCIError(.invalidRootfs, "cannot read rootfs directory \(directory): \(error.reason)", cause: error)
            }
            var nameBytes: Int64 = 24 // "." and ".."
            var subdirectories: [String] = []
            for entry in listing {
                let path = relative.isEmpty ? entry.name : relative + "/" + entry.name
                let status: FileStatus
                do { status = try Files.status(root + "/" + path) } catch {
                    // Directory listings decode names as UTF-8, repairing bad bytes: such a name cannot be found again.
                    if entry.name.unicodeScalars.contains("\u{FFFD}") {
                        throw OCIError(.invalidRootfs, "\(directory) holds a file name that is not UTF-8 (not supported): \(entry.name)")
                    }
                    throw OCIError(.invalidRootfs, "cannot stat \(root)/\(path): \(error.reason)", cause: error)
                }
                var target: String?
                if status.type == .symbolicLink {
                    guard let link = Files.readLink(root + "/" + path) else {
                        throw OCIError(.invalidRootfs, "cannot read symlink \(root)/\(path)")
                    }
                    target = link
                }
                add(path, status, target: target)
                nameBytes += 8 + (Int64(entry.name.utf8.count) + 3) / 4 * 4
                if status.type == .directory { subdirectories.append(path) }
            }
            tree.directoryBytes += (nameBytes / blockSize + 1) * blockSize
            pending.append(contentsOf: subdirectories.reversed())
        }
        tree.digest = hasher.hexDigest()
        return tree
    }

    private static func typeCode(_ type: FileType) -> UInt8 {
        switch type {
        case .regular: 1
        case .directory: 2
        case .symbolicLink: 3
        case .fifo: 4
        case .socket: 5
        case .characterDevice: 6
        case .blockDevice: 7
        case .unknown: 0
        }
    }
}
