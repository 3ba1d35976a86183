import Glibc
import LinuxSystem

/// vm-init's log: one line per event on stderr (the console when PID 1). Never throws, never allocates much.
/// A healthy boot prints nothing at the default level (`info`): its milestones go to the host in `hello`, and each
/// console line before the hello is kernel tty work every boot pays (a serial console, a VM exit per byte).
public enum Log {
    /// Verbosity, from `vminit.log=` / `--log`.
    public enum Level: Int, Sendable, Comparable {
        case error = 0, info = 1, debug = 2
        public static func < (a: Level, b: Level) -> Bool { a.rawValue < b.rawValue }

        /// Parses `error`, `info`, `debug` (also `quiet` → error).
        public init?(name: String) {
            switch name.lowercased() {
            case "error", "quiet": self = .error
            case "info": self = .info
            case "debug", "verbose": self = .debug
            default: return nil
            }
        }
    }

    /// Set once at start-up, on the main thread, before anything else logs.
    nonisolated(unsafe) public static var level: Level = .info

    public static func error(_ message: @autoclosure () -> String) { emit(.error, message()) }
    public static func info(_ message: @autoclosure () -> String) { emit(.info, message()) }
    public static func debug(_ message: @autoclosure () -> String) { emit(.debug, message()) }

    private static func emit(_ at: Level, _ message: String) {
        guard at <= level else { return }
        let tag = at == .error ? "error" : at == .info ? "info" : "debug"
        let line = "vm-init[\(getpid())] \(tag): \(message)\n"
        // A closed, broken or full (non-blocking) stderr loses the rest of the line: PID 1 must never wait on
        // its console, and there is nowhere else to report it.
        let bytes = Array(line.utf8)
        var offset = 0
        while offset < bytes.count, case .processed(let n)? = bytes.withUnsafeBytes({ raw in
            try? FileDescriptor.standardError.writeSome(UnsafeRawBufferPointer(rebasing: raw[offset...]))
        }) {
            offset += n
        }
    }
}
