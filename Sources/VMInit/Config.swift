import VsockProtocol

/// Where vm-init listens for the host.
public enum ListenAddress: Sendable, Equatable, CustomStringConvertible {
    /// AF_VSOCK, any CID, this port; only connections from the host (CID 2) are accepted.
    case vsock(port: UInt32)
    /// A Unix socket (tests, containers).
    case unix(path: String)
    /// A character device (virtio-serial port) that is one persistent connection. `name=X` finds the
    /// virtio port whose /sys/class/virtio-ports/*/name is X.
    case serial(device: String)

    public var description: String {
        switch self {
        case .vsock(let port): "vsock:\(port)"
        case .unix(let path): "unix:\(path)"
        case .serial(let device): "serial:\(device)"
        }
    }

    /// Parses `vsock:PORT`, `unix:PATH`, `serial:DEVICE` (or a bare port number).
    public init(parsing text: String) throws(ConfigError) {
        if let port = UInt32(text) { self = .vsock(port: port); return }
        guard let colon = text.firstIndex(of: ":") else { throw ConfigError("listen address \"\(text)\" has no scheme") }
        let scheme = text[..<colon]
        let rest = String(text[text.index(after: colon)...])
        switch scheme {
        case "vsock":
            guard let port = UInt32(rest) else { throw ConfigError("bad vsock port \"\(rest)\"") }
            self = .vsock(port: port)
        case "unix":
            guard !rest.isEmpty, rest.utf8.count <= 107 else { throw ConfigError("unix socket path must be 1–107 bytes") }
            self = .unix(path: rest)
        case "serial":
            guard !rest.isEmpty else { throw ConfigError("serial device is empty") }
            self = .serial(device: rest)
        default:
            throw ConfigError("unknown listen scheme \"\(scheme)\" (vsock, unix, serial)")
        }
    }
}

/// A configuration error (bad flag or kernel command-line value).
public struct ConfigError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// vm-init's configuration. Sources, later overriding earlier: defaults, the kernel command line
/// (`vminit.*` keys), command-line flags.
///
/// Kernel command-line keys: `vminit.port=N` (vsock port), `vminit.listen=ADDR`, `vminit.hostname=NAME`,
/// `vminit.drain_ms=N`, `vminit.shutdown=reboot|poweroff`, `vminit.log=error|info|debug`, `vminit.min_ttl_ms=N`,
/// `vminit.splice=0|1`.
/// Flags: `--listen ADDR`, `--cmdline STRING` (parse this instead of /proc/cmdline), `--hostname NAME`,
/// `--drain-ms N`, `--shutdown reboot|poweroff`, `--log LEVEL`, `--etc DIR` (where a `network` message writes
/// resolv.conf and hosts; tests point it at a scratch directory).
public struct Config: Sendable, Equatable {
    public var listen: ListenAddress = .vsock(port: ProtocolConstants.defaultVsockPort)
    /// Set only when configured.
    public var hostname: String?
    /// How long after a process exits its output may still be drained before the exit is sent.
    public var drainMs: UInt64 = 500
    public var shutdownMode: ShutdownMode = .reboot
    public var logLevel: Log.Level = .info
    /// Default grace between SIGTERM and SIGKILL at shutdown.
    public var graceMs: UInt64 = 3000
    /// How long shutdown waits for the host to acknowledge pending exits.
    public var exitAckWaitMs: UInt64 = 2000
    /// Where a `network` message writes resolv.conf and hosts.
    public var etcDirectory: String = "/etc"
    /// The multi-gen LRU's `min_ttl_ms` written at boot in a VM (0 leaves the kernel's default, off): pages used
    /// within this many milliseconds are not evicted, and when memory cannot hold them the OOM killer runs. Without
    /// it a guest without swap can spend minutes re-reading its programs' text from the root image instead.
    public var memoryMinTTLMs: UInt64 = 1000
    /// Output pipes go to the host with `splice(2)` (the kernel moves the pipe's pages; vm-init never reads
    /// them) whenever flow control allows. 0 turns it off, for comparisons and as a way out.
    public var spliceOutput = true

    public init() {}

    /// Builds the configuration from flags (without the program name) and the kernel command line.
    /// `readProcCmdline` is called only when no `--cmdline` flag is given.
    ///
    /// Parsed over bytes, with no sets, dictionaries or `Character` iteration: this runs in every boot before the
    /// hello, where each piece of code run for the first time costs the guest (BENCHMARKS.md section 8).
    public static func load(arguments: [String], readProcCmdline: () -> String?) throws(ConfigError) -> Config {
        var listen, cmdline, hostname, drainMs, shutdown, log, etc: String?
        var i = 0
        while i < arguments.count {
            var name = arguments[i]
            var value: String?
            let utf8 = name.utf8
            if utf8.starts(with: "--".utf8), let eq = utf8.firstIndex(of: UInt8(ascii: "=")) {
                value = String(name[utf8.index(after: eq)...])
                name = String(name[..<eq])
            }
            if value == nil {
                guard Self.flags.contains(name) else { throw ConfigError("unknown argument \"\(name.prefix(80))\"") }
                i += 1
                guard i < arguments.count else { throw ConfigError("\(name) needs a value") }
                value = arguments[i]
            }
            switch name {
            case "--listen": listen = value
            case "--cmdline": cmdline = value
            case "--hostname": hostname = value
            case "--drain-ms": drainMs = value
            case "--shutdown": shutdown = value
            case "--log": log = value
            case "--etc": etc = value
            default: throw ConfigError("unknown argument \"\(name.prefix(80))\"")
            }
            i += 1
        }
        var config = Config()
        try config.apply(kernelCommandLine: cmdline ?? readProcCmdline() ?? "")
        if let v = listen { config.listen = try ListenAddress(parsing: v) }
        if let v = hostname { config.hostname = v }
        if let v = drainMs {
            guard let n = UInt64(v) else { throw ConfigError("--drain-ms wants milliseconds, got \"\(v)\"") }
            config.drainMs = n
        }
        if let v = shutdown {
            guard let m = ShutdownMode(defined: v) else { throw ConfigError("--shutdown wants reboot or poweroff") }
            config.shutdownMode = m
        }
        if let v = etc {
            guard v.hasPrefix("/") else { throw ConfigError("--etc wants an absolute directory") }
            config.etcDirectory = v
        }
        if let v = log {
            guard let l = Log.Level(name: v) else { throw ConfigError("--log wants error, info or debug") }
            config.logLevel = l
        }
        return config
    }

    /// The flags ``load(arguments:readProcCmdline:)`` knows.
    static let flags = ["--listen", "--cmdline", "--hostname", "--drain-ms", "--shutdown", "--log", "--etc"]

    /// Applies the `vminit.*` keys of a kernel command line. Unknown `vminit.` keys are errors; everything
    /// else on the line is ignored.
    public mutating func apply(kernelCommandLine: String) throws(ConfigError) {
        let prefix = Array("vminit.".utf8)
        try Self.forEachWord(of: kernelCommandLine) { (word) throws(ConfigError) in
            if word.starts(with: prefix) { try apply(word: word, after: prefix.count) }
        }
    }

    /// One `vminit.KEY=VALUE` word; `keyStart` is where KEY begins.
    private mutating func apply(word: [UInt8], after keyStart: Int) throws(ConfigError) {
        guard let eq = word[keyStart...].firstIndex(of: UInt8(ascii: "=")) else {
            throw ConfigError("\(String(decoding: word, as: UTF8.self)) has no value")
        }
        let key = String(decoding: word[keyStart..<eq], as: UTF8.self)
        let value = String(decoding: word[(eq + 1)...], as: UTF8.self)
        switch key {
        case "port":
            guard let port = UInt32(value) else { throw ConfigError("vminit.port: bad port \"\(value)\"") }
            listen = .vsock(port: port)
        case "listen": listen = try ListenAddress(parsing: value)
        case "hostname": hostname = value.isEmpty ? nil : value
        case "drain_ms":
            guard let n = UInt64(value) else { throw ConfigError("vminit.drain_ms: bad value \"\(value)\"") }
            drainMs = n
        case "shutdown":
            guard let m = ShutdownMode(defined: value) else { throw ConfigError("vminit.shutdown: reboot or poweroff") }
            shutdownMode = m
        case "log":
            guard let l = Log.Level(name: value) else { throw ConfigError("vminit.log: error, info or debug") }
            logLevel = l
        case "min_ttl_ms":
            guard let n = UInt64(value), n <= 3_600_000 else {
                throw ConfigError("vminit.min_ttl_ms: milliseconds up to 3600000, got \"\(value.prefix(40))\"")
            }
            memoryMinTTLMs = n
        case "splice":
            guard value == "0" || value == "1" else { throw ConfigError("vminit.splice: 0 or 1, got \"\(value.prefix(40))\"") }
            spliceOutput = value == "1"
        default:
            throw ConfigError("unknown kernel command-line key vminit.\(key)")
        }
    }

    /// Splits like the kernel does: on spaces, tabs and newlines (bytes), double quotes group (and are removed).
    static func splitCommandLine(_ line: String) -> [String] {
        var words: [String] = []
        forEachWord(of: line) { words.append(String(decoding: $0, as: UTF8.self)) }
        return words
    }

    /// Calls `body` with each word of `line` (see ``splitCommandLine(_:)``), as bytes; stops at its first error.
    static func forEachWord<E: Error>(of line: String, _ body: ([UInt8]) throws(E) -> Void) throws(E) {
        var current: [UInt8] = []
        var quoted = false
        var any = false
        for byte in line.utf8 {
            if byte == UInt8(ascii: "\"") {
                quoted.toggle()
                any = true
            } else if !quoted && (byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\n") || byte == UInt8(ascii: "\t")) {
                if any || !current.isEmpty { try body(current) }
                current.removeAll(keepingCapacity: true)
                any = false
            } else {
                current.append(byte)
            }
        }
        if any || !current.isEmpty { try body(current) }
    }
}
