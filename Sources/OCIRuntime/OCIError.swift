/// The one error type of the OCI layer: a bundle, the runtime configuration or the container state store refused
/// something. `message` is always ONE line naming the problem, because runc's callers show (conmon, podman) or
/// parse (containerd keeps the last `msg`) the runtime's stderr line by line.
public struct OCIError: Error, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable {
        /// The bundle directory or its `config.json` is missing or unreadable.
        case bundleNotFound
        /// `config.json` is not JSON, or a field has the wrong type.
        case invalidJSON
        /// `ociVersion` is missing or its major version is not 1.
        case unsupportedVersion
        /// `root.path` is missing, escapes the bundle, or is not a directory.
        case invalidRootfs
        /// `process` is missing or cannot be run (empty args, relative cwd, unknown rlimit).
        case invalidProcess
        /// A mount the VM cannot honour (a host directory, an unknown file system type).
        case unsupportedMount
        /// A VM option from annotations, resources or namespaces that cannot be applied.
        case unsupportedOption
        /// The runtime configuration file is missing.
        case configurationNotFound
        /// The runtime configuration file is not valid.
        case invalidConfiguration
        /// A container id outside runc's alphabet.
        case invalidContainerID
        /// No state for this id under the root.
        case containerNotFound
        /// State for this id already exists.
        case containerExists
        /// A state file could not be read, parsed or written.
        case stateUnavailable
        /// The rootfs image could not be built or stored (mkfs.ext4 missing or failing, the cache full).
        case imageUnavailable
        /// A checkpoint directory this runtime cannot restore (missing or truncated files, another format
        /// version, kernel, image or VMM), or one that could not be written.
        case invalidCheckpoint
    }

    public var code: Code
    public var message: String
    public var cause: (any Error & Sendable)?

    /// `message` is flattened to one line: anything taken from the input (a path, a JSON key) may hold a newline.
    public init(_ code: Code, _ message: String, cause: (any Error & Sendable)? = nil) {
        self.code = code
        self.message = Self.oneLine(message)
        self.cause = cause
    }

    public var description: String { message }

    /// Control characters (newlines included) become spaces.
    static func oneLine(_ text: String) -> String {
        String(String.UnicodeScalarView(text.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7f ? " " : $0 }))
    }
}

/// `"text"` for messages, cut to a readable length (an annotation value or a path can be arbitrarily long).
func quoted(_ text: String, limit: Int = 200) -> String {
    text.count > limit ? "\"\(text.prefix(limit))…\"" : "\"\(text)\""
}
