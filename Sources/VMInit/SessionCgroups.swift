import Glibc
import LinuxSystem
import VsockProtocol

/// One cgroup v2 leaf per session, `<base>/fc-sessions/<session id>`, where `<base>` is vm-init's cgroup at boot
/// (in a VM the root, /sys/fs/cgroup). vm-init moves itself to `<base>/fc-init`, so `<base>` holds no process and
/// `memory pids cpu` can be enabled below it: each session can then be frozen (snapshots), counted (stats) and
/// killed as a whole, grandchildren included.
///
/// vm-init reaches `<base>` through a directory descriptor it opens at boot (``base`` is `/proc/self/fd/N`), never
/// through the path: a `container` request that mounts its own cgroup2 on /sys/fs/cgroup (runc's default spec
/// does, read-only) covers that path in vm-init's root too, and sessions would then get no leaf, no limits and no
/// freezing. The descriptor keeps the hierarchy as vm-init mounted it, writable, whatever is mounted over it later.
///
/// Everything is best effort: without cgroup2, or when `<base>` holds processes that are not vm-init's (a test
/// namespace inside the host's cgroup, where moving them or creating siblings would touch the host), sessions
/// run without a cgroup and ``available`` is false. Only the event-loop thread uses it.
final class SessionCgroups {
    /// `<base>`, when cgroups are in use: `/proc/self/fd/N` of the descriptor opened at boot, which is never closed
    /// (tests: any directory).
    let base: String?
    /// Controllers enabled for the sessions' leaves (a subset of memory, pids, cpu).
    private(set) var controllers: [String] = []
    private var leaves: [SessionID: String] = [:]
    /// Leaves whose session is gone but whose rmdir failed (a background grandchild still lives there).
    private var lingering: Set<String> = []

    var available: Bool { base != nil }

    /// The session's leaf directory; nil when that session has none (cgroups unavailable, or creating it failed).
    func directory(for session: SessionID) -> String? { leaves[session] }

    /// Sessions that have a leaf.
    var sessionsWithLeaves: [SessionID] { Array(leaves.keys) }

    /// No cgroups (the fuzz target and agents that are not PID 1).
    init() { base = nil }

    /// A base already set up, with these controllers enabled below it (tests, on a plain directory).
    init(base: String, controllers: [String]) { self.base = base; self.controllers = controllers }

    /// Sets up `<base>/fc-sessions` and, unless `<base>` is the root cgroup of a VM of its own, moves this
    /// process to `<base>/fc-init`; unavailable when a step fails. `ownsMachine`: PID 1 of a VM (the initial PID
    /// namespace), where every other process at boot is a kernel thread, so `<base>` is not searched for foreign
    /// processes (a /proc read per kernel thread) and the root may keep vm-init while enabling controllers.
    /// `rootMount`: where this process, PID 1 of a VM of its own, mounted cgroup2 itself at boot. That mount shows
    /// the whole hierarchy and vm-init is still in its root (nothing has moved it), so it is `<base>` without
    /// reading /proc/self/mountinfo and /proc/self/cgroup (about 8 ms of a boot under TCG, BENCHMARKS.md §8).
    init(discover: Bool, ownsMachine: Bool = false, rootMount: String? = nil) {
        guard discover else { base = nil; return }
        switch Self.setUp(ownsMachine: ownsMachine, rootMount: ownsMachine ? rootMount : nil) {
        case .success(let (path, handle, controllers)):
            base = "/proc/self/fd/\(handle.rawValue)"
            self.controllers = controllers
            Log.debug("cgroups: sessions under \(path)/fc-sessions (controllers: \(controllers.isEmpty ? "none" : controllers.joined(separator: " ")))")
        case .failure(let reason):
            self.base = nil
            Log.info("cgroups: sessions run without a cgroup: \(reason.text)")
        }
    }

    struct Reason: Error { var text: String }

    private static func setUp(ownsMachine: Bool, rootMount: String?) -> Result<(String, FileDescriptor, [String]), Reason> {
        let base: String, relative: String
        if let rootMount {
            (base, relative) = (rootMount, "/")
        } else {
            guard let (mountPoint, mountRoot) = cgroup2Mount() else { return .failure(Reason(text: "no cgroup2 mount")) }
            guard let own = ownCgroup() else { return .failure(Reason(text: "no cgroup2 line in /proc/self/cgroup")) }
            guard own == mountRoot || own.hasPrefix(mountRoot == "/" ? "/" : mountRoot + "/") else {
                return .failure(Reason(text: "own cgroup \(own) is outside the cgroup2 mount's root \(mountRoot)"))
            }
            relative = mountRoot == "/" ? own : String(own.dropFirst(mountRoot.count))
            base = mountPoint + (relative == "/" ? "" : relative)
        }
        if !ownsMachine, let other = foreignProcess(in: base) {
            return .failure(Reason(text: "\(base) also holds \(other) (not this VM's to rearrange)"))
        }
        let handle: FileDescriptor
        do {
            // The root cgroup may hold processes and still enable controllers for its children; anywhere else
            // vm-init must leave `<base>` first. (Every move costs an RCU grace period, milliseconds under TCG.)
            if !(ownsMachine && relative == "/") {
                try makeCgroup(base + "/fc-init")
                try Files.writeExisting(base + "/fc-init/cgroup.procs", "0")
            }
            try makeCgroup(base + "/fc-sessions")
            handle = try FileDescriptor.open(base, flags: O_RDONLY | O_DIRECTORY)
        } catch {
            return .failure(Reason(text: "\(error)"))
        }
        // Controllers are a bonus (stats, limits): freezing, killing and cpu.stat work without any.
        let offered = (Files.readValue(base + "/cgroup.controllers") ?? "").split(separator: " ").map(String.init)
        let wanted = ["memory", "pids", "cpu"].filter { offered.contains($0) }
        // All at once: each write to subtree_control waits for an RCU grace period. One by one only if that fails.
        let all = wanted.map { "+" + $0 }.joined(separator: " ")
        if !wanted.isEmpty, (try? Files.writeExisting(base + "/cgroup.subtree_control", all)) != nil,
           (try? Files.writeExisting(base + "/fc-sessions/cgroup.subtree_control", all)) != nil {
            return .success((base, handle, wanted))
        }
        var enabled: [String] = []
        for controller in wanted {
            do {
                try Files.writeExisting(base + "/cgroup.subtree_control", "+" + controller)
                try Files.writeExisting(base + "/fc-sessions/cgroup.subtree_control", "+" + controller)
                enabled.append(controller)
            } catch {
                Log.info("cgroups: cannot enable \(controller): \(error)")
            }
        }
        return .success((base, handle, enabled))
    }

    private static func makeCgroup(_ path: String) throws(SystemError) {
        do { try Files.makeDirectory(path) } catch where error.errno == EEXIST {}
    }

    /// The last cgroup2 mount in /proc/self/mountinfo: (mount point, root of the hierarchy it shows).
    static func cgroup2Mount() -> (String, String)? {
        cgroup2MountFields(mountInfo()).last.map { (unescape($0.fields[4]), unescape($0.fields[3])) }
    }

    /// The options of the cgroup2 hierarchy that are its own rather than one mount's (`nsdelegate`,
    /// `memory_recursiveprot`, …), as the last cgroup2 mount in `mountInfo` shows them; nil when there are none.
    /// Linux applies these to the one hierarchy on every mount made from the initial cgroup namespace and clears
    /// those not given (`apply_cgroup_root_flags`), so a mount without them would change the host's.
    static func hierarchyOptions(mountInfo: String = mountInfo()) -> String? {
        guard let entry = cgroup2MountFields(mountInfo).last, entry.dash + 3 < entry.fields.count else { return nil }
        let own: Set<Substring> = ["nsdelegate", "favordynmods", "memory_localevents", "memory_recursiveprot"]
        let options = entry.fields[entry.dash + 3].split(separator: ",").filter { own.contains($0) }
        return options.isEmpty ? nil : options.joined(separator: ",")
    }

    private static func mountInfo() -> String {
        (try? Files.readText("/proc/self/mountinfo", limit: 1 << 20)) ?? ""
    }

    /// The fields of each cgroup2 line of a mountinfo text, with the index of its `-` separator.
    private static func cgroup2MountFields(_ info: String) -> [(fields: [Substring], dash: Int)] {
        info.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ")
            guard let dash = fields.firstIndex(of: "-"), dash + 1 < fields.count, dash > 4,
                  fields[dash + 1] == "cgroup2" else { return nil }
            return (fields, dash)
        }
    }

    /// mountinfo escapes space, tab, newline and backslash as \ooo.
    static func unescape(_ field: Substring) -> String {
        var bytes: [UInt8] = []
        var utf8 = Array(field.utf8)[...]
        while let byte = utf8.popFirst() {
            if byte == UInt8(ascii: "\\"), utf8.count >= 3, let value = UInt8(String(decoding: utf8.prefix(3), as: UTF8.self), radix: 8) {
                bytes.append(value)
                utf8 = utf8.dropFirst(3)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// This process's cgroup v2 path (the `0::` line of /proc/self/cgroup).
    static func ownCgroup() -> String? {
        guard let text = try? Files.readText("/proc/self/cgroup", limit: 64 << 10) else { return nil }
        return text.split(separator: "\n").first { $0.hasPrefix("0::") }.map { String($0.dropFirst(3)) }
    }

    /// A process in `cgroup` that is neither this one nor a kernel thread, described; nil when there is none.
    /// A process outside this PID namespace is listed as 0: it is never ours.
    static func foreignProcess(in cgroup: String) -> String? {
        guard let text = try? Files.readText(cgroup + "/cgroup.procs", limit: 4 << 20) else { return "unreadable cgroup.procs" }
        let me = getpid()
        for word in text.split(separator: "\n") {
            guard let pid = Int32(word) else { continue }
            if pid == me { continue }
            if pid == 0 { return "processes outside this PID namespace" }
            if !isKernelThread(pid) { return "pid \(pid)" }
        }
        return nil
    }

    /// PF_KTHREAD in /proc/PID/stat's flags (a thread that has exited meanwhile counts as one: it is not ours).
    static func isKernelThread(_ pid: Int32) -> Bool {
        guard let stat = try? Files.readText("/proc/\(pid)/stat", limit: 4096), let close = stat.lastIndex(of: ")") else {
            return true
        }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 6, let flags = UInt64(fields[6]) else { return false }
        return flags & 0x0020_0000 != 0
    }

    // MARK: - Freezing and killing

    /// Every leaf that may hold processes: live sessions' and lingering ones (a finished session's grandchildren).
    var allLeafDirectories: [String] { Array(Set(leaves.values).union(lingering)).sorted() }

    /// Writes `cgroup.freeze` (1: stop every process in the leaf, 0: let them run).
    func setFrozen(_ directory: String, _ frozen: Bool) throws(SystemError) {
        try Files.writeExisting(directory + "/cgroup.freeze", frozen ? "1" : "0")
    }

    /// Whether the kernel finished freezing the leaf (`frozen 1` in `cgroup.events`); a leaf that is gone (its
    /// processes ended and it was removed) holds nothing to freeze.
    func isFrozen(_ directory: String) -> Bool {
        guard let events = try? Files.readText(directory + "/cgroup.events", limit: 4096) else {
            return !Files.isDirectory(directory)
        }
        return events.split(separator: "\n").contains("frozen 1")
    }

    /// SIGKILL to every process in the leaf (`cgroup.kill`, Linux 5.14+); false when the kernel has no such file.
    @discardableResult
    func kill(_ directory: String) -> Bool {
        (try? Files.writeExisting(directory + "/cgroup.kill", "1")) != nil
    }

    // MARK: - The container's limits

    /// Writes a container's `resources` to `<base>/fc-sessions` (PROTOCOL.md §4.23 step 1), the parent of every
    /// session's leaf: like runc's one cgroup per container, the limits bound the workload and every exec
    /// together, and never vm-init. Returns a description of each limit left unapplied for want of cgroups or of
    /// its controller (the VM's size still bounds the guest); throws, naming the file, when the kernel refuses a
    /// write.
    func applyLimits(_ resources: ContainerResources) throws(LimitError) -> [String] {
        let wanted = [("memory", "memory.max", resources.memoryMax), ("pids", "pids.max", resources.pidsMax)]
        var unapplied: [String] = []
        for case let (controller, file, value?) in wanted {
            guard let base, controllers.contains(controller) else {
                unapplied.append("\(file) \(value) (\(base == nil ? "no cgroups" : "no \(controller) controller"))")
                continue
            }
            do { try Files.writeExisting(base + "/fc-sessions/" + file, String(value)) } catch {
                throw LimitError(file: file, cause: error)
            }
        }
        return unapplied
    }

    /// A limit the kernel refused (`EINVAL` for a value it cannot take, `EBUSY`, …).
    struct LimitError: Error {
        var file: String
        var cause: SystemError
    }

    // MARK: - Leaves

    /// Creates the session's leaf and opens it for the child to start in (``SpawnOptions/cgroup``). nil (the
    /// session runs without a cgroup) when cgroups are unavailable or the leaf cannot be made. A leaf still
    /// lingering from an earlier session with the same id is reused.
    func prepare(for session: SessionID) -> FileDescriptor? {
        guard let base else { return nil }
        let path = "\(base)/fc-sessions/\(session)"
        do {
            try Self.makeCgroup(path)
            let leaf = try FileDescriptor.open(path, flags: O_RDONLY | O_DIRECTORY)
            leaves[session] = path
            lingering.remove(path)
            return leaf
        } catch {
            Log.info("cgroups: session \(session) runs without a cgroup: \(error)")
            try? GuestControl.removeDirectory(path)
            return nil
        }
    }

    /// The spawn did not happen (or the child could not join): forget the leaf.
    func abandon(_ session: SessionID) {
        guard let path = leaves.removeValue(forKey: session) else { return }
        try? GuestControl.removeDirectory(path)
    }

    /// The session's process was reaped: remove its leaf, or keep trying while something still lives in it.
    func release(_ session: SessionID) {
        guard let path = leaves.removeValue(forKey: session) else { return }
        remove(path)
    }

    /// Retries removing lingering leaves (called after reaping: their last process may just have gone).
    func sweep() {
        for path in lingering { remove(path) }
    }

    private func remove(_ path: String) {
        do {
            try GuestControl.removeDirectory(path)
            lingering.remove(path)
        } catch {
            if !lingering.contains(path) { Log.debug("cgroups: \(path) stays while it holds processes: \(error)") }
            lingering.insert(path)
        }
    }
}
