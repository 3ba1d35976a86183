import OCIRuntime
import VMM

/// runc's global flags, which every client puts before the subcommand (contract §1). Parsed by hand, before
/// ArgumentParser sees the subcommand: both `--flag value` and `--flag=value` (and runc's single-dash spellings,
/// which urfave/cli accepts alike), repeatable, the last value winning, as runc does.
public struct GlobalOptions: Sendable, Equatable {
    public enum LogFormat: String, Sendable { case text, json }

    /// The state root holding `<id>/`.
    public var root = VMConfig.defaultStateRoot
    public var log: String?
    public var logFormat = LogFormat.text
    public var debug = false
    /// Accepted and remembered in the container's state (podman passes it on create only); the VM has no
    /// cgroup of its own to place, so it changes nothing else.
    public var systemdCgroup = false
    /// The runtime configuration file (``RuntimeConfiguration/locate(flag:environment:)``).
    public var config: String?
    public var version = false
    public var help = false
    /// True when at least one global flag was given: the command line is then runc's, never the direct form.
    public var any = false

    public init() {}

    /// The flags `arguments` (argv without the program name) starts with, and the rest from the subcommand on.
    public static func parse(_ arguments: [String]) throws(RuntimeFailure) -> (GlobalOptions, [String]) {
        var options = GlobalOptions()
        var index = 0
        while index < arguments.count {
            let word = arguments[index]
            guard word.hasPrefix("-"), word != "-", word != "--" else { break }
            let body = word.drop { $0 == "-" }
            let name: Substring, inline: String?
            if let eq = body.firstIndex(of: "=") {
                name = body[..<eq]
                inline = String(body[body.index(after: eq)...])
            } else {
                name = body
                inline = nil
            }
            /// The flag's value: after `=`, else the next word.
            func value() throws(RuntimeFailure) -> String {
                if let inline { return inline }
                index += 1
                guard index < arguments.count else { throw RuntimeFailure("flag needs an argument: \(word)") }
                return arguments[index]
            }
            /// A boolean flag: bare means true; `=true|false` as Go's strconv.ParseBool reads it.
            func boolean() throws(RuntimeFailure) -> Bool {
                guard let inline else { return true }
                guard let parsed = parseBool(inline) else {
                    throw RuntimeFailure("invalid boolean value \"\(inline)\" for -\(name): parse error")
                }
                return parsed
            }
            switch name {
            case "root": options.root = try value()
            case "log": options.log = try value()
            case "log-format":
                let text = try value()
                guard let format = LogFormat(rawValue: text) else { throw RuntimeFailure("invalid log-format: \(text)") }
                options.logFormat = format
            case "debug": options.debug = try boolean()
            case "systemd-cgroup": options.systemdCgroup = try boolean()
            case "rootless":
                // runc takes true, false or auto; a VM runtime cannot drop to a user's cgroup delegation.
                let text = inline ?? "true"
                guard text == "false" || text == "auto" else {
                    throw RuntimeFailure("--rootless=\(text) is not supported: fc-supervisor needs root to run a VM (use --rootless=false)")
                }
            case "config": options.config = try value()
            case "criu": _ = try value()  // runc ≤1.1 accepts it; nothing here uses CRIU
            case "version", "v": options.version = true
            case "help", "h": options.help = true
            default: throw RuntimeFailure("flag provided but not defined: -\(name)")
            }
            options.any = true
            index += 1
        }
        guard !options.root.isEmpty, options.root != "/" else { throw RuntimeFailure("option --root argument must not be \"/\"") }
        if !options.root.hasPrefix("/"), let absolute = OCIBundle.absolutePath(options.root) { options.root = absolute }
        return (options, Array(arguments[index...]))
    }

    /// Go's `strconv.ParseBool`.
    static func parseBool(_ text: String) -> Bool? {
        switch text {
        case "1", "t", "T", "TRUE", "true", "True": true
        case "0", "f", "F", "FALSE", "false", "False": false
        default: nil
        }
    }

    /// The words that pass these options on to a child `fc-supervisor` (the per-VM supervisor, an exec relay).
    public var arguments: [String] {
        var words = ["--root", root, "--log-format", logFormat.rawValue]
        if let log { words += ["--log", log] }
        if let config { words += ["--config", config] }
        if debug { words.append("--debug") }
        if systemdCgroup { words.append("--systemd-cgroup") }
        return words
    }
}
