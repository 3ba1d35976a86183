import Glibc
import LinuxSystem
import OCIRuntime

/// The one error type of runc's command line: a one-line message and the exit status (1 for everything but
/// exec's runtime failures, which are 255, as runc's are).
public struct RuntimeFailure: Error, Sendable, Equatable {
    public var message: String
    public var exitCode: Int32
    public init(_ message: String, exitCode: Int32 = 1) {
        self.message = message
        self.exitCode = exitCode
    }

    init(_ error: OCIError) { self.init(error.message) }
}

/// Error reporting as runc does it with logrus (contract §1, checked against runc 1.1.5 here):
/// - with `--log FILE`: one line appended to FILE in the chosen format (`json`: `{"level","msg","time"}`, keys
///   sorted; `text`: `time="…" level=error msg="…"`), and the bare message on stderr;
/// - without `--log`: that formatted line on stderr instead.
/// podman reads the whole log file as one JSON object and containerd keeps the last `error` entry's `msg`, so
/// nothing but the one error line is ever written to the log file by a runtime call.
public struct RuntimeLog: Sendable {
    public var path: String?
    public var format: GlobalOptions.LogFormat

    public init(path: String?, format: GlobalOptions.LogFormat) {
        self.path = path
        self.format = format
    }

    public init(_ options: GlobalOptions) { self.init(path: options.log, format: options.logFormat) }

    /// Reports `message` at level error.
    public func error(_ message: String) {
        let line = Self.line(level: "error", message: message, time: Timestamp.now(), format: format)
        guard let path else {
            StandardError.writeLine(line)
            return
        }
        // O_APPEND|O_SYNC like runc; a log that cannot be written still leaves the message on stderr.
        if let fd = try? FileDescriptor.open(path, flags: O_CREAT | O_WRONLY | O_APPEND | O_SYNC | O_CLOEXEC, mode: 0o644) {
            try? fd.writeAll(Array((line + "\n").utf8))
            fd.close()
        }
        StandardError.writeLine(message)
    }

    /// One logrus line. `time` is RFC 3339 in UTC with whole seconds, as logrus' default format prints it.
    public static func line(level: String, message: String, time: Timestamp, format: GlobalOptions.LogFormat) -> String {
        let stamp = time.rfc3339Seconds
        switch format {
        case .json:
            // JSONFormatter: keys sorted (level, msg, time), HTML-escaped like Go's encoder.
            return "{\"level\":\(GoJSONText.string(level)),\"msg\":\(GoJSONText.string(message)),\"time\":\(GoJSONText.string(stamp))}"
        case .text:
            return "time=\(textValue(stamp)) level=\(textValue(level)) msg=\(textValue(message))"
        }
    }

    /// logrus' TextFormatter: a value is quoted (Go's `%q`) unless every character is in `[A-Za-z0-9-._/@^+]`.
    static func textValue(_ value: String) -> String {
        let plain = !value.isEmpty && value.unicodeScalars.allSatisfy { c in
            (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || (c >= "0" && c <= "9")
                || c == "-" || c == "." || c == "_" || c == "/" || c == "@" || c == "^" || c == "+"
        }
        guard !plain else { return value }
        var out = "\""
        for c in value.unicodeScalars {
            switch c {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            case "\u{0}"..."\u{1f}", "\u{7f}":
                let hex = String(c.value, radix: 16)
                out += "\\x" + (hex.count < 2 ? "0" : "") + hex
            default: out.unicodeScalars.append(c)
            }
        }
        return out + "\""
    }
}
