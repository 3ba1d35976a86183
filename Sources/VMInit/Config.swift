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
    public static func load(arguments: [String], readProcCmdline: () -> String?) throws(ConfigError) -> Config {
        var flags: [String: String] = [:]
        var i = 0
        let known: Set<String> = ["--listen", "--cmdline", "--hostname", "--drain-ms", "--shutdown", "--log", "--etc"]
        while i < arguments.count {
            var arg = arguments[i]
            var value: String?
            if let eq = arg.firstIndex(of: "="), arg.hasPrefix("--") {
                value = String(arg[arg.index(after: eq)...])
                arg = String(arg[..<eq])
            }
            guard known.contains(arg) else { throw ConfigError("unknown argument \"\(arg.prefix(80))\"") }
            if value == nil {
                i += 1
                guard i < arguments.count else { throw ConfigError("\(arg) needs a value") }
                value = arguments[i]
            }
            flags[arg] = value
            i += 1
        }
        var config = Config()
        let cmdline = flags["--cmdline"] ?? readProcCmdline() ?? ""
        try config.apply(kernelCommandLine: cmdline)
        if let v = flags["--listen"] { config.listen = try ListenAddress(parsing: v) }
        if let v = flags["--hostname"] { config.hostname = v }
        if let v = flags["--drain-ms"] {
            guard let n = UInt64(v) else { throw ConfigError("--drain-ms wants milliseconds, got \"\(v)\"") }
            config.drainMs = n
        }
        if let v = flags["--shutdown"] {
            guard let m = ShutdownMode(defined: v) else { throw ConfigError("--shutdown wants reboot or poweroff") }
            config.shutdownMode = m
        }
        if let v = flags["--etc"] {
            guard v.hasPrefix("/") else { throw ConfigError("--etc wants an absolute directory") }
            config.etcDirectory = v
        }
        if let v = flags["--log"] {
            guard let l = Log.Level(name: v) else { throw ConfigError("--log wants error, info or debug") }
            config.logLevel = l
        }
        return config
    }

    /// Applies the `vminit.*` keys of a kernel command line. Unknown `vminit.` keys are errors; everything
    /// else on the line is ignored.
    public mutating func apply(kernelCommandLine: String) throws(ConfigError) {
        for word in Self.splitCommandLine(kernelCommandLine) where word.hasPrefix("vminit.") {
            let body = word.dropFirst("vminit.".count)
            guard let eq = body.firstIndex(of: "=") else { throw ConfigError("\(word) has no value") }
            let key = String(body[..<eq])
            let value = String(body[body.index(after: eq)...])
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
    }

    /// Splits like the kernel does: on whitespace, double quotes group (and are removed).
    static func splitCommandLine(_ line: String) -> [String] {
        var words: [String] = []
        var current = ""
        var quoted = false
        var any = false
        for ch in line {
            if ch == "\"" { quoted.toggle(); any = true; continue }
            if !quoted && (ch == " " || ch == "\n" || ch == "\t") {
                if any || !current.isEmpty { words.append(current) }
                current = ""
                any = false
                continue
            }
            current.append(ch)
        }
        if any || !current.isEmpty { words.append(current) }
        return words
    }
}
