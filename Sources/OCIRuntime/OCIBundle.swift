import LinuxSystem

/// A validated OCI bundle: `config.json` parsed and checked, the rootfs and every mount resolved on the host.
///
/// Loading only reads: a bundle that fails leaves nothing behind, and one that loads has been checked for
/// everything that can be checked before a VM exists, so `create` fails fast, with one line, like runc.
public struct OCIBundle: Sendable {
    /// The bundle directory, absolute with symlinks resolved (runc reports the resolved directory as `bundle`).
    public var path: String
    public var spec: OCISpec
    /// `spec.process`, known to map onto an `exec` request.
    public var process: OCISpec.Process
    /// The root file system directory, absolute with symlinks resolved.
    public var rootfs: String
    public var readonlyRoot: Bool
    /// `spec.mounts` in order, each classified.
    public var mounts: [GuestMount]
    public var vmOptions: VMOptions

    /// The largest `config.json` read (real ones are a few KiB; seccomp profiles make them tens of KiB).
    public static let maxConfigBytes = 4 << 20

    /// Loads and validates the bundle at `path` (relative to the current directory, or absolute).
    public static func load(path: String) throws(OCIError) -> OCIBundle {
        guard let absolute = HostPath.absolute(path), let directory = HostPath.resolved(absolute) else {
            throw OCIError(.bundleNotFound, "bundle \(quoted(path)) cannot be resolved")
        }
        switch Files.type(of: directory) {
        case .directory?: break
        case nil: throw OCIError(.bundleNotFound, "bundle \(quoted(path)) does not exist")
        default: throw OCIError(.bundleNotFound, "bundle \(quoted(path)) is not a directory")
        }
        let configPath = directory + "/config.json"
        guard Files.exists(configPath) else {
            throw OCIError(.bundleNotFound, "bundle \(quoted(directory)) has no config.json")
        }
        let bytes: [UInt8]
        do { bytes = try Files.readAll(configPath, limit: maxConfigBytes + 1) } catch {
            throw OCIError(.bundleNotFound, "cannot read \(configPath): \(error.reason)", cause: error)
        }
        guard bytes.count <= maxConfigBytes else {
            throw OCIError(.invalidJSON, "config.json is larger than \(maxConfigBytes >> 20) MiB")
        }
        return try load(directory: directory, spec: try decodeSpec(bytes))
    }

    /// The checks that follow parsing; the first failure is the one reported.
    static func load(directory: String, spec: OCISpec) throws(OCIError) -> OCIBundle {
        try checkVersion(spec.ociVersion)
        guard let process = spec.process else { throw OCIError(.invalidProcess, "config.json has no process") }
        _ = try process.execRequest(session: 0)
        let rootfs = try resolveRootfs(spec.root, bundle: directory)
        let privateIPC = spec.linux?.namespaces?.contains { $0.type == "ipc" && ($0.path ?? "").isEmpty } ?? false
        let mounts = try (spec.mounts ?? []).map { mount throws(OCIError) in
            try GuestMount.classify(mount, bundle: directory, privateIPC: privateIPC)
        }
        return OCIBundle(path: directory, spec: spec, process: process, rootfs: rootfs,
                         readonlyRoot: spec.root?.readonly ?? false, mounts: mounts, vmOptions: try VMOptions(spec: spec))
    }

    /// `config.json` decoded, or one line naming the problem and, for a syntax error, where it is.
    static func decodeSpec(_ bytes: [UInt8]) throws(OCIError) -> OCISpec {
        try JSONDiagnostics.decode(OCISpec.self, from: bytes, what: "config.json", code: .invalidJSON)
    }

    /// The supported spec major version; runc 1.x reads 1.0.x–1.2.x bundles alike.
    public static let supportedMajorVersion = 1

    static func checkVersion(_ version: String?) throws(OCIError) {
        guard let version, !version.isEmpty else { throw OCIError(.unsupportedVersion, "config.json has no ociVersion") }
        let major = version.prefix { $0 != "." }
        guard Int(major) == supportedMajorVersion else {
            throw OCIError(.unsupportedVersion,
                           "unsupported ociVersion \(quoted(version, limit: 40)): only \(supportedMajorVersion).x bundles are supported")
        }
    }

    /// `root.path`: relative to the bundle (and then never outside it, through `..` or a symlink) or absolute
    /// (podman and CRI hand over an overlay mount elsewhere); it must be a directory.
    static func resolveRootfs(_ root: OCISpec.Root?, bundle: String) throws(OCIError) -> String {
        guard let given = root?.path, !given.isEmpty else { throw OCIError(.invalidRootfs, "config.json has no root.path") }
        guard let rootfs = HostPath.resolved(HostPath.joined(bundle, given)) else {
            throw OCIError(.invalidRootfs, "root.path \(quoted(given)): too many levels of symbolic links")
        }
        if !given.hasPrefix("/") && !HostPath.isWithin(rootfs, bundle) {
            throw OCIError(.invalidRootfs, "root.path \(quoted(given)) resolves to \(rootfs), outside the bundle \(bundle)")
        }
        switch Files.type(of: rootfs) {
        case nil: throw OCIError(.invalidRootfs, "rootfs \(rootfs) (root.path \(quoted(given))) does not exist")
        case .directory?: return rootfs
        default: throw OCIError(.invalidRootfs, "rootfs \(rootfs) (root.path \(quoted(given))) is not a directory")
        }
    }
}

extension OCIBundle {
    /// `path` made absolute against the current directory, without resolving symlinks (for the CLI's `--root`
    /// and pid-file paths, which runc makes absolute the same way).
    public static func absolutePath(_ path: String) -> String? { HostPath.absolute(path) }
}

extension OCIBundle {
    /// An `exec --process FILE`: one OCI `process` object (runc's `specs.Process`), checked like config.json's:
    /// it must map onto an exec request.
    public static func loadProcess(path: String) throws(OCIError) -> OCISpec.Process {
        let bytes: [UInt8]
        do { bytes = try Files.readAll(path, limit: maxConfigBytes) } catch {
            throw OCIError(.invalidProcess, "cannot read process file \(path): \(error.reason)", cause: error)
        }
        let process = try JSONDiagnostics.decode(OCISpec.Process.self, from: bytes, what: "process file \(path)", code: .invalidJSON)
        _ = try process.execRequest(session: 0)
        return process
    }
}
