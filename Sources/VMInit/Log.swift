import Glibc
import LinuxSystem

/// vm-init's log: one line per event on stderr (the console when PID 1). Never throws, never allocates much.
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
        // A closed or broken stderr loses the line: there is nowhere else to report it.
        try? FileDescriptor.standardError.writeAll(Array(line.utf8))
    }
}
