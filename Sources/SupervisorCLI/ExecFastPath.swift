import Supervisor
import VMM

/// `fc-supervisor exec` is the latency-critical command (an operator's or a worker's every command goes through
/// it), and ArgumentParser's reflection-based parsing costs about 2 ms per process start — more than the exec
/// round trip itself. This parser takes only the plain, valid forms of `exec`; anything else (help, unknown
/// flags, missing parts) returns nil so ArgumentParser parses it and prints its usage errors.
enum ExecFastPath {
    struct Invocation: Equatable {
        var stateDir: String
        var id: String
        var options: ExecOptions
    }

    static func parse(_ arguments: [String]) -> Invocation? {
        guard arguments.count >= 4, arguments[1] == "exec" else { return nil }
        var stateDir = VMConfig.defaultStateRoot
        var env: [String] = []
        var cwd: String?
        var user: String?
        var interactive = false
        var tty = false
        var id: String?
        var index = 2
        /// An option's value. ArgumentParser does not take a word that looks like an option (`-i`, `--`) as a
        /// value, so neither does this parser: it declines the line instead.
        func value() -> String? {
            index += 1
            guard index < arguments.count, !arguments[index].hasPrefix("-") else { return nil }
            return arguments[index]
        }
        while index < arguments.count {
            let argument = arguments[index]
            switch argument {
            case "--":
                let command = Array(arguments[(index + 1)...])
                guard let id, !command.isEmpty else { return nil }
                var options = ExecOptions(argv: command)
                options.env = env
                options.cwd = cwd
                options.user = user
                options.interactive = interactive
                options.tty = tty
                return Invocation(stateDir: stateDir, id: id, options: options)
            case "-i", "--interactive": interactive = true
            case "-t", "--tty": tty = true
            case "-it", "-ti": interactive = true; tty = true
            case "-e", "--env": guard let v = value() else { return nil }; env.append(v)
            case "-w", "--workdir": guard let v = value() else { return nil }; cwd = v
            case "-u", "--user": guard let v = value() else { return nil }; user = v
            case "--state-dir": guard let v = value() else { return nil }; stateDir = v
            default:
                guard id == nil, !argument.hasPrefix("-") else { return nil }
                id = argument
            }
            index += 1
        }
        return nil
    }
}
