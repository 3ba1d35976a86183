import Glibc
import LinuxSystem
import TestSupport
@testable import VMInit

/// A fresh cgroup v2 directory for one test's vm-init to start in, under this test process's own cgroup on the
/// host's cgroup2 mount (a hybrid host mounts it at /sys/fs/cgroup/unified). Removed, with whatever vm-init made
/// in it, by ``remove()``.
final class TestCgroup {
    /// The directory as the test (the host) sees it.
    let path: String
    /// Its path inside the cgroup2 hierarchy (what /proc/PID/cgroup shows after `0::`).
    let hierarchyPath: String

    nonisolated(unsafe) private static var counter = 0

    init() throws {
        guard let (mountPoint, mountRoot) = SessionCgroups.cgroup2Mount(), let own = SessionCgroups.ownCgroup() else {
            throw HarnessError("this host has no cgroup2 mount; the cgroup tests need one (Linux ≥ 4.5, any layout)")
        }
        let relative = mountRoot == "/" ? own : String(own.dropFirst(mountRoot.count))
        Self.counter += 1
        let name = "fc-vminit-test-\(getpid())-\(Self.counter)"
        hierarchyPath = (own == "/" ? "" : own) + "/" + name
        path = mountPoint + (relative == "/" ? "" : relative) + "/" + name
        do { try Files.makeDirectory(path) } catch { throw HarnessError("mkdir \(path): \(error)") }
    }

    /// A file's text, nil when unreadable.
    func read(_ name: String) -> String? { try? Files.readText(path + "/" + name) }

    /// Removes the tree bottom-up, retrying for a while: the namespace's processes take a moment to die after
    /// their PID 1 was killed.
    func remove() {
        let deadline = Deadline(seconds: 10)
        while !deadline.hasPassed {
            if Self.removeTree(path) { return }
            Deadline.sleep(0.05)
        }
    }

    private static func removeTree(_ dir: String) -> Bool {
        guard Files.isDirectory(dir) else { return true }
        for entry in (try? Directory.entries(dir)) ?? [] where entry.kind == .directory {
            _ = removeTree(dir + "/" + entry.name)
        }
        return (try? GuestControl.removeDirectory(dir)) != nil
    }

    deinit { remove() }
}
