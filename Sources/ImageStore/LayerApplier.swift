import Glibc
import LinuxSystem

/// Applies layer tar streams, in order, to a root directory the caller owns (a private temporary directory in
/// the cache, so nothing else changes the tree while this walks it by path).
///
/// - Paths: `./`, leading `/` and `.` components are dropped; a `..` component is refused (no registry tool
///   writes one; a layer that has one is hostile or broken).
/// - Symlinks already in the tree are followed as the container would see them, with the root as `/`:
///   ``resolve(_:)`` never leaves the root, so `etc -> /host/etc` or `x -> ../../..` lands inside it.
///   The last component of an entry is never followed: it is replaced.
/// - Whiteouts (`.wh.NAME`) remove NAME from the lower layers; `.wh..wh..opq` empties its directory of everything
///   the lower layers put there (entries this same layer wrote, before or after the marker, stay).
/// - Hard links must name an existing non-directory inside the root.
/// - Device nodes and FIFOs are recreated with `mknod` (the tree becomes an ext4 image that the guest mounts;
///   vm-init mounts devtmpfs on `/dev`), so an image that ships `/dev/null` keeps it; the cache is 0700.
/// - Owners, modes (setuid/setgid/sticky included, applied after chown) and mtimes are kept; directory mtimes are
///   set after the layer, since writing their entries moves them.
public final class LayerApplier {
    public let root: String
    private var writtenThisLayer: Set<String> = []
    private var directoryTimes: [(String, Int64)] = []

    public init(root: String) { self.root = root }

    /// Applies one layer from `tar`; `what` names the layer in errors.
    public func apply(_ tar: TarReader, what: String) throws(ImageError) {
        writtenThisLayer = []
        directoryTimes = []
        var opaque: [[String]] = []
        while let entry = try tar.next() {
            let components = try Self.components(entry.path, what: what)
            guard let name = components.last else { continue }  // the root itself: its metadata is the image's
            if name == ".wh..wh..opq" { opaque.append(Array(components.dropLast())); continue }
            if name.hasPrefix(".wh.") {
                let target = Array(components.dropLast()) + [String(name.dropFirst(4))]
                guard !target.last!.isEmpty, target.last != ".", target.last != ".." else {
                    throw ImageError(.unsafeLayer, "\(what): bad whiteout \(entry.path)")
                }
                // Nothing to remove when the parent is missing (or not a directory): no lower layer has the name.
                if let parent = try? resolve(Array(target.dropLast()), createMissing: false, what: what) {
                    try io { () throws(SystemError) in try Files.removeTree(parent + "/" + target[target.count - 1]) }
                }
                continue
            }
            try place(entry, components: components, from: tar, what: what)
            for count in 1...components.count { writtenThisLayer.insert(components.prefix(count).joined(separator: "/")) }
        }
        try tar.drain()
        for directory in opaque { try emptyOpaque(directory, what: what) }
        for (path, time) in directoryTimes.reversed() {
            try io { () throws(SystemError) in try Files.setTimes(path, accessNanoseconds: time, modifiedNanoseconds: time) }
        }
    }

    /// The entry's path as components; `..` refused.
    static func components(_ path: String, what: String) throws(ImageError) -> [String] {
        let parts = path.split(separator: "/").map(String.init).filter { $0 != "." }
        if parts.contains("..") { throw ImageError(.unsafeLayer, "\(what): entry \(path.prefix(200)) has a .. component") }
        return parts
    }

    /// The host path of `components`' parent directory with symlinks resolved inside the root, and the last
    /// component appended unresolved. Missing parents are created (tar streams may omit them).
    func resolveParent(_ components: [String], what: String) throws(ImageError) -> String {
        let parent = try resolve(Array(components.dropLast()), createMissing: true, what: what)
        return parent + "/" + components[components.count - 1]
    }

    /// Walks `components` from the root, following symlinks with the root as `/` (at most 255 of them).
    func resolve(_ components: [String], createMissing: Bool, what: String) throws(ImageError) -> String {
        var resolved: [String] = []
        var pending = Array(components.reversed())
        var hops = 0
        while let next = pending.popLast() {
            if next == "." || next.isEmpty { continue }
            if next == ".." { _ = resolved.popLast(); continue }
            let path = root + "/" + (resolved + [next]).joined(separator: "/")
            switch try? Files.status(path) {
            case nil:
                guard createMissing else { throw ImageError(.unsafeLayer, "\(what): \(path) does not exist") }
                try io { () throws(SystemError) in try Files.makeDirectory(path) }
                resolved.append(next)
            case let status? where status.type == .symbolicLink:
                hops += 1
                guard hops <= 255, let target = Files.readLink(path) else {
                    throw ImageError(.unsafeLayer, "\(what): too many symbolic links at \(path)")
                }
                if target.hasPrefix("/") { resolved = [] }
                pending.append(contentsOf: target.split(separator: "/").map(String.init).reversed())
            case let status? where status.type == .directory:
                resolved.append(next)
            default:
                throw ImageError(.unsafeLayer, "\(what): \((resolved + [next]).joined(separator: "/")) is not a directory")
            }
        }
        return resolved.isEmpty ? root : root + "/" + resolved.joined(separator: "/")
    }

    private func place(_ entry: TarEntry, components: [String], from tar: TarReader, what: String) throws(ImageError) {
        let path = try resolveParent(components, what: what)
        let existing = try? Files.status(path)
        if let existing, !(existing.type == .directory && entry.kind == .directory) {
            try io { () throws(SystemError) in try Files.removeTree(path) }
        }
        try io { () throws(SystemError) in
            switch entry.kind {
            case .directory:
                if existing?.type != .directory { try Files.makeDirectory(path, mode: 0o700) }
            case .regular:
                break
            case .symlink:
                try Files.makeSymlink(path, to: entry.linkName)
            case .hardLink:
                break
            case .characterDevice, .blockDevice, .fifo:
                let kind: mode_t = entry.kind == .fifo ? S_IFIFO : entry.kind == .characterDevice ? S_IFCHR : S_IFBLK
                try Files.makeNode(path, kind: kind, permissions: mode_t(entry.mode), major: entry.deviceMajor, minor: entry.deviceMinor)
            }
        }
        if entry.kind == .regular {
            let fd: FileDescriptor
            do { fd = try Files.createExclusive(path, permissions: 0o600) } catch {
                throw ImageError(.io, "unpacking: \(error.description)", cause: error)
            }
            defer { fd.close() }
            try tar.readData { chunk throws(ImageError) in
                do throws(SystemError) { try fd.writeAll(chunk) } catch { throw ImageError(.io, "unpacking: write \(path): \(error.reason)", cause: error) }
            }
        }
        if entry.kind == .hardLink {
            let targetComponents = try Self.components(entry.linkName, what: what)
            guard !targetComponents.isEmpty else { throw ImageError(.unsafeLayer, "\(what): hard link \(entry.path) to the root") }
            let target = try resolveParent(targetComponents, what: what)
            guard let status = try? Files.status(target), status.type != .directory else {
                throw ImageError(.unsafeLayer, "\(what): hard link \(entry.path) to \(entry.linkName), which is missing or a directory")
            }
            try io { () throws(SystemError) in try Files.hardLink(target, to: path) }
            return  // a hard link shares its target's metadata
        }
        try io { () throws(SystemError) in
            try Files.changeOwner(path, uid: entry.uid, gid: entry.gid)
            if entry.kind != .symlink { try Files.changeMode(path, mode_t(entry.mode)) }
            if entry.kind == .directory {
                directoryTimes.append((path, entry.modifiedNanoseconds))
            } else {
                try Files.setTimes(path, accessNanoseconds: entry.modifiedNanoseconds, modifiedNanoseconds: entry.modifiedNanoseconds)
            }
        }
    }

    /// `.wh..wh..opq`: removes what lower layers put in the directory, keeping what this layer wrote there.
    private func emptyOpaque(_ directory: [String], what: String) throws(ImageError) {
        let path = try resolve(directory, createMissing: true, what: what)
        let prefix = directory.joined(separator: "/")
        try io { () throws(SystemError) in
            for entry in try Directory.entries(path) {
                let relative = prefix.isEmpty ? entry.name : prefix + "/" + entry.name
                if !writtenThisLayer.contains(relative) { try Files.removeTree(path + "/" + entry.name) }
            }
        }
    }

    private func io(_ body: () throws(SystemError) -> Void) throws(ImageError) {
        do { try body() } catch {
            throw ImageError(.io, "unpacking: \(error.description)", cause: error)
        }
    }
}
