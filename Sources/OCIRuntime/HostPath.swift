import LinuxSystem

/// Host path arithmetic for bundles: absolute paths and symlink resolution, read-only.
///
/// `realpath` would fail on a missing path, yet a missing rootfs must still be reported as *missing* (and one
/// that would land outside the bundle as *escaping*); so this resolves every symlink of the existing prefix and
/// keeps the missing rest lexically.
enum HostPath {
    /// The kernel's limit on symlinks followed in one lookup (ELOOP beyond it).
    static let maxSymlinks = 40

    /// `path` made absolute against the current directory (read from /proc/self/cwd). Not normalised: `..`
    /// after a symlink means the link target's parent, which only ``resolved(_:)`` can tell.
    static func absolute(_ path: String) -> String? {
        if path.hasPrefix("/") { return path }
        guard let cwd = Files.readLink("/proc/self/cwd") else { return nil }
        return cwd + "/" + path
    }

    /// `path` joined onto `base` unless it is absolute (not normalised either).
    static func joined(_ base: String, _ path: String) -> String {
        path.hasPrefix("/") ? path : base + "/" + path
    }

    /// The absolute `path` with every symlink resolved, as far as the path exists; the missing rest is appended
    /// lexically. Nil after ``maxSymlinks`` links (a loop).
    static func resolved(_ path: String) -> String? {
        var pending = path.split(separator: "/").map(String.init).reversed() as [String]
        var current: [String] = []
        var followed = 0
        var missing = false
        while let part = pending.popLast() {
            if part == "." { continue }
            if part == ".." { _ = current.popLast(); continue }
            let candidate = "/" + (current + [part]).joined(separator: "/")
            if !missing, Files.type(of: candidate, followingSymlinks: false) == .symbolicLink,
               let target = Files.readLink(candidate) {
                followed += 1
                guard followed <= maxSymlinks else { return nil }
                if target.hasPrefix("/") { current = [] }
                pending.append(contentsOf: target.split(separator: "/").map(String.init).reversed())
                continue
            }
            if !missing && !Files.exists(candidate) { missing = true }
            current.append(part)
        }
        return "/" + current.joined(separator: "/")
    }

    /// Whether `path` is `directory` or lies under it (both resolved).
    static func isWithin(_ path: String, _ directory: String) -> Bool {
        directory == "/" || path == directory || path.hasPrefix(directory + "/")
    }
}
