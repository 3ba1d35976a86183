import Glibc
import LinuxSystem

/// Container state on disk: `<root>/<id>/oci-state.json`, holding exactly what `state` prints (pid and status as
/// recorded at create; the CLI recomputes the status from the supervisor on every call).
///
/// The directory is shared with the per-VM supervisor, whose own `state.json`, `events.jsonl`, sockets and logs
/// live beside this file (`Supervisor.StateDirectory`): the OCI facts are in their own file so that neither
/// writer ever replaces the other's.
///
/// Every write is atomic (a temporary file, then `rename`), so a reader such as a concurrent `state` or `list`
/// sees the old or the new state, never half of one. A container appears whole: its directory is made under a
/// temporary name (one that is never a valid id, so `list` skips it) and renamed into place.
public struct ContainerStore: Sendable {
    public let root: String

    public init(root: String) { self.root = root }

    public static let stateFileName = "oci-state.json"
    /// The prefix of directories being created; `#` is outside the id alphabet.
    static let creatingPrefix = "#creating-"

    public func directory(for id: String) -> String { root + "/" + id }

    /// runc's id rule: one or more of `A–Z a–z 0–9 _ + - .`, and not `.` or `..`; runc's error text.
    public static func validate(id: String) throws(OCIError) {
        let allowed = id.utf8.allSatisfy { c in
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a)
                || c == 0x5f || c == 0x2b || c == 0x2d || c == 0x2e
        }
        guard !id.isEmpty, allowed, id != ".", id != ".." else {
            throw OCIError(.invalidContainerID, "invalid container ID format")
        }
    }

    /// Records a new container; `containerExists` (runc's text) when the id is taken.
    public func create(_ state: ContainerState) throws(OCIError) {
        try Self.validate(id: state.id)
        let target = directory(for: state.id)
        guard !Files.exists(target) else { throw Self.exists }
        let staging: String
        do {
            try Files.makeDirectories(root, mode: 0o700)
            staging = try Files.makeTemporaryDirectory(prefix: root + "/" + Self.creatingPrefix + state.id + ".")
        } catch {
            throw OCIError(.stateUnavailable, "cannot create state directory under \(root): \(error.reason)", cause: error)
        }
        do {
            try writeState(state, into: staging)
            // rename refuses a non-empty target, and a container's directory always holds its state: of two
            // concurrent creates of one id, exactly one wins.
            try Files.rename(staging, to: target)
        } catch {
            try? Files.removeTree(staging)
            if error.errno == ENOTEMPTY || error.errno == EEXIST { throw Self.exists }
            throw OCIError(.stateUnavailable, "cannot record container \(state.id): \(error.reason)", cause: error)
        }
    }

    /// Replaces the recorded state of an existing container.
    public func save(_ state: ContainerState) throws(OCIError) {
        try Self.validate(id: state.id)
        let target = directory(for: state.id)
        guard Files.isDirectory(target) else { throw Self.notFound }
        do { try writeState(state, into: target) } catch {
            throw OCIError(.stateUnavailable, "cannot save the state of container \(state.id): \(error.reason)", cause: error)
        }
    }

    /// The recorded state; `container does not exist` (runc's text, which podman and containerd match) when none.
    public func load(id: String) throws(OCIError) -> ContainerState {
        try Self.validate(id: id)
        let path = directory(for: id) + "/" + Self.stateFileName
        let bytes: [UInt8]
        do { bytes = try Files.readAll(path, limit: 1 << 20) } catch {
            if error.errno == ENOENT || error.errno == ENOTDIR { throw Self.notFound }
            throw OCIError(.stateUnavailable, "cannot read the state of container \(id): \(error.reason)", cause: error)
        }
        let stored = try JSONDiagnostics.decode(StoredState.self, from: bytes, what: "state of container \(id)",
                                                code: .stateUnavailable)
        guard let status = ContainerState.Status(rawValue: stored.status),
              let created = Timestamp(rfc3339: stored.created), stored.id == id else {
            throw OCIError(.stateUnavailable, "state of container \(id) is not a valid OCI state")
        }
        return ContainerState(ociVersion: stored.ociVersion, id: stored.id, pid: stored.pid, status: status,
                              bundle: stored.bundle, rootfs: stored.rootfs, created: created,
                              annotations: stored.annotations ?? [:], owner: stored.owner ?? "")
    }

    /// Removes the container's directory and everything in it; an id with nothing recorded is not an error
    /// (`delete --force` must succeed twice, and removes a leftover directory).
    public func remove(id: String) throws(OCIError) {
        try Self.validate(id: id)
        do { try Files.removeTree(directory(for: id)) } catch {
            throw OCIError(.stateUnavailable, "cannot remove the state of container \(id): \(error.reason)", cause: error)
        }
    }

    /// Every recorded container, sorted by id, and one error per directory that could not be read (runc prints
    /// those on stderr and lists the rest). A root that does not exist holds no containers. A directory without
    /// ``stateFileName`` is not a container (a VM of the direct `fc-supervisor run --id` form shares the root).
    public func list() -> (containers: [ContainerState], failures: [OCIError]) {
        guard Files.isDirectory(root) else { return ([], []) }
        let entries: [Directory.Entry]
        do { entries = try Directory.entries(root) } catch {
            return ([], [OCIError(.stateUnavailable, "cannot list \(root): \(error.reason)", cause: error)])
        }
        var containers: [ContainerState] = []
        var failures: [OCIError] = []
        for entry in entries where (try? Self.validate(id: entry.name)) != nil && Files.isDirectory(directory(for: entry.name))
            && Files.exists(directory(for: entry.name) + "/" + Self.stateFileName) {
            do throws(OCIError) { containers.append(try load(id: entry.name)) } catch {
                failures.append(OCIError(error.code, "load container \(entry.name): \(error.message)", cause: error))
            }
        }
        return (containers, failures)
    }

    private static var exists: OCIError { OCIError(.containerExists, "container with given ID already exists") }
    private static var notFound: OCIError { OCIError(.containerNotFound, "container does not exist") }

    /// `state.json` through a uniquely named temporary file (mkstemp: two writers never share one) and `rename`.
    private func writeState(_ state: ContainerState, into directory: String) throws(SystemError) {
        let (fd, temporary) = try Files.makeTemporaryFile(prefix: directory + "/." + Self.stateFileName + ".")
        do {
            defer { fd.close() }
            try fd.writeAll(Array(state.stateJSON.utf8))
        } catch {
            try? Files.remove(temporary)
            throw error
        }
        do { try Files.rename(temporary, to: directory + "/" + Self.stateFileName) } catch {
            try? Files.remove(temporary)
            throw error
        }
    }

    /// `state.json` as written by ``ContainerState/stateJSON``; `annotations` and `owner` may be absent.
    private struct StoredState: Decodable {
        var ociVersion: String
        var id: String
        var pid: Int32
        var status: String
        var bundle: String
        var rootfs: String
        var created: String
        var annotations: [String: String]?
        var owner: String?
    }
}
