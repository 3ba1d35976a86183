import ArgumentParser
import Glibc
import LinuxSystem
import OCIRuntime

struct RuncStateCommand: RuncSubcommand {
    static let configuration = CommandConfiguration(commandName: "state", abstract: "Print the container's OCI state.")
    @Argument var id: String

    func execute(_ globals: GlobalOptions) throws(RuntimeFailure) -> Int32 {
        // runc's bytes: indented JSON, no trailing newline (go-runc parses stdout and stderr together).
        Output.write(try Containers.load(root: globals.root, id: id).state.stateJSON)
        return 0
    }
}

struct RuncListCommand: RuncSubcommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List the containers under --root.")
    @Option(name: [.customShort("f"), .long], help: "table or json.") var format = "table"
    @Flag(name: [.customShort("q"), .long], help: "Print the ids only.") var quiet = false

    func execute(_ globals: GlobalOptions) throws(RuntimeFailure) -> Int32 {
        let (containers, failures) = Containers.list(root: globals.root)
        for failure in failures { RuntimeLog(globals).error(failure) }
        let states = containers.map { container in
            var state = container.state
            state.owner = Owner.name(ofDirectory: container.directory.path)
            return state
        }
        if quiet {
            Output.write(states.map { $0.id + "\n" }.joined())
            return 0
        }
        switch format {
        case "json": Output.write(ContainerState.listJSON(states))
        case "table": Output.write(Self.table(states))
        default: throw RuntimeFailure("invalid format option")
        }
        return 0
    }

    /// runc's `tabwriter.NewWriter(os.Stdout, 12, 1, 3, ' ', 0)`: each column as wide as its widest cell plus
    /// 3, at least 12; the last column unpadded.
    static func table(_ states: [ContainerState]) -> String {
        let rows = [["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]] + states.map {
            [$0.id, String($0.status == .stopped ? 0 : $0.pid), $0.status.rawValue, $0.bundle, $0.created.rfc3339Nano, $0.owner]
        }
        var widths = [Int](repeating: 0, count: 5)
        for row in rows { for column in 0..<5 { widths[column] = max(widths[column], max(row[column].count + 3, 12)) } }
        return rows.map { row in
            (0..<5).map { row[$0].padding(to: widths[$0]) }.joined() + row[5] + "\n"
        }.joined()
    }
}

struct PsCommand: RuncSubcommand {
    static let configuration = CommandConfiguration(
        commandName: "ps", abstract: "List the host processes standing in for the container.",
        discussion: "json: the supervisor's pid (the workload's stand-in) and each exec relay's; table: those rows of `ps` (default -ef).")
    @Option(name: [.customShort("f"), .long], help: "table or json.") var format = "table"
    @Argument var id: String
    @Argument(parsing: .captureForPassthrough, help: "Options for ps (table format).") var psArguments: [String] = []

    func execute(_ globals: GlobalOptions) throws(RuntimeFailure) -> Int32 {
        let container = try Containers.load(root: globals.root, id: id)
        let pids = container.status == .stopped ? [] : [container.pid] + container.execPids
        switch format {
        case "json":
            Output.write(pids.isEmpty ? "null\n" : "[" + pids.map(String.init).joined(separator: ",") + "]\n")
        case "table":
            Output.write(try Self.table(pids: Set(pids), psArguments: psArguments.isEmpty ? ["-ef"] : psArguments))
        default:
            throw RuntimeFailure("invalid format option")
        }
        return 0
    }

    /// The host `ps` output's header and the rows whose PID column is one of `pids` (runc ps.go).
    static func table(pids: Set<Int32>, psArguments: [String]) throws(RuntimeFailure) -> String {
        let output = try HostCommand.output(["ps"] + psArguments)
        let lines = output.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard let header = lines.first, let column = header.split(separator: " ").firstIndex(of: "PID") else {
            throw RuntimeFailure("couldn't find PID field in ps output")
        }
        let rows = lines.dropFirst().filter { line in
            let fields = line.split(separator: " ")
            return fields.count > column && Int32(fields[column]).map(pids.contains) == true
        }
        return ([header] + rows).joined(separator: "\n") + "\n"
    }
}

struct FeaturesCommand: RuncSubcommand {
    static let configuration = CommandConfiguration(commandName: "features", abstract: "Print what this runtime supports (runc's JSON).")

    func execute(_ globals: GlobalOptions) throws(RuntimeFailure) -> Int32 {
        Output.write(RuntimeFeatures.json + "\n")
        return 0
    }
}

struct UpdateCommand: RuncSubcommand {
    static let configuration = CommandConfiguration(commandName: "update", abstract: "Refused: a running VM's size is fixed at create.")
    @Option(name: [.customShort("r"), .long], help: "LinuxResources JSON file, or - for stdin.") var resources: String?
    @Argument var id: String

    func execute(_ globals: GlobalOptions) throws(RuntimeFailure) -> Int32 {
        let container = try Containers.load(root: globals.root, id: id)
        guard container.status != .stopped else { throw RuntimeFailure("container not running") }
        guard let resources else { throw RuntimeFailure("update needs --resources FILE (runc's other update flags are not supported)") }
        let bytes: [UInt8]
        do {
            bytes = resources == "-" ? try FileDescriptor.standardInput.readToEnd(limit: 1 << 20) : try Files.readAll(resources, limit: 1 << 20)
        } catch {
            throw RuntimeFailure("cannot read resources \(resources): \(error)")
        }
        let changed = try ResourceUpdate.settings(bytes)
        guard changed.isEmpty else {
            throw RuntimeFailure("cannot update \(changed.joined(separator: ", ")) of a running VM: its vCPUs and memory are fixed when it is created")
        }
        return 0
    }
}

/// What a `LinuxResources` payload sets: the dotted paths of every non-null, non-empty leaf.
enum ResourceUpdate {
    static func settings(_ bytes: [UInt8]) throws(RuntimeFailure) -> [String] {
        guard let value = try? JSONValue.parse(bytes) else { throw RuntimeFailure("resources: invalid JSON") }
        guard case .object = value else { throw RuntimeFailure("resources: not a JSON object") }
        return value.leaves(prefix: "").sorted()
    }
}

enum Output {
    /// Writes to stdout in one piece (no buffering surprises when the process exits right after).
    static func write(_ text: String) {
        try? FileDescriptor.standardOutput.writeAll(Array(text.utf8))
    }
}

/// `list`'s OWNER: the state directory's owner by name from /etc/passwd, else `#uid` (runc list.go).
enum Owner {
    static func name(ofDirectory path: String) -> String {
        guard let uid = try? Files.status(path, followingSymlinks: true).uid else { return "" }
        let passwd = (try? Files.readText("/etc/passwd", limit: 1 << 20)) ?? ""
        for line in passwd.split(separator: "\n") {
            let fields = line.split(separator: ":", omittingEmptySubsequences: false)
            if fields.count > 2, UInt32(fields[2]) == uid { return String(fields[0]) }
        }
        return "#\(uid)"
    }
}

extension String {
    fileprivate func padding(to width: Int) -> String { self + String(repeating: " ", count: max(0, width - count)) }
}
