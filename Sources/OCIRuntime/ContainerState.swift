import VsockProtocol

/// The OCI state of one container, as runc's `state` prints it and `list --format json` lists it
/// (runc state.go / list.go; the contract's §2.1–2.2).
public struct ContainerState: Sendable, Equatable {
    /// runc's four answers; it never reports `creating`, and podman refuses anything else.
    public enum Status: String, Sendable, CaseIterable {
        case created, running, paused, stopped
    }

    /// The runtime's spec version (not the bundle's), as runc prints its compiled one.
    public var ociVersion: String
    public var id: String
    /// The host pid standing in for the workload; printed as 0 once `stopped`, as runc does.
    public var pid: Int32
    public var status: Status
    /// The bundle directory, absolute.
    public var bundle: String
    /// The root file system directory, absolute.
    public var rootfs: String
    public var created: Timestamp
    /// `config.json`'s annotations; the key is left out when there are none.
    public var annotations: [String: String]
    /// Always `""` in `state`; `list` fills in the user name (or `#uid`) owning the state directory.
    public var owner: String
    /// How the workload ended, once `stopped` (issue 15: the whole status, not an int): printed after `owner` as
    /// ``exitJSON(_:)``. runc has no such field; Go clients (go-runc, podman, containerd) ignore unknown keys.
    public var exit: ExitStatus?

    /// The runtime-spec version this runtime implements.
    public static let specVersion = "1.0.2"

    public init(ociVersion: String = ContainerState.specVersion, id: String, pid: Int32, status: Status,
                bundle: String, rootfs: String, created: Timestamp, annotations: [String: String] = [:],
                owner: String = "", exit: ExitStatus? = nil) {
        self.ociVersion = ociVersion; self.id = id; self.pid = pid; self.status = status; self.bundle = bundle
        self.rootfs = rootfs; self.created = created; self.annotations = annotations; self.owner = owner
        self.exit = exit
    }

    /// `{"status":137,"signal":9,"coreDumped":false,"oomKilled":true,"outputTruncated":false}`: the shell's status
    /// (128+n for a signal), then `code` or `signal`, then the three flags, in runc's lowerCamel style.
    public static func exitJSON(_ exit: ExitStatus) -> String {
        var members: [(String, String)] = [("status", String(exit.shellStatus))]
        if let code = exit.code { members.append(("code", String(code))) }
        if let signal = exit.signal { members.append(("signal", String(signal))) }
        members += [("coreDumped", String(exit.coreDumped)), ("oomKilled", String(exit.oomKilled)),
                    ("outputTruncated", String(exit.outputTruncated))]
        return GoJSON.object(members.map { (GoJSON.string($0.0), $0.1) }, indent: nil)
    }

    /// The bytes of `runc state`: Go's `json.MarshalIndent(state, "", "  ")` with runc's field order, no
    /// trailing newline (go-runc parses stdout+stderr together, so nothing may follow).
    public var stateJSON: String { encode(indent: "") }

    /// The line of `runc list --format json`: one compact array and a newline; `null` when there is nothing,
    /// as Go encodes an empty slice that was never allocated.
    public static func listJSON(_ states: [ContainerState]) -> String {
        guard !states.isEmpty else { return "null\n" }
        return "[" + states.map { $0.encode(indent: nil) }.joined(separator: ",") + "]\n"
    }

    /// Go's encoding of runc's `containerState` struct: fields in declaration order, `annotations` omitted
    /// when empty, map keys sorted by bytes. `indent` nil is compact, else `MarshalIndent` with that prefix.
    private func encode(indent: String?) -> String {
        var fields: [(String, String)] = [
            ("ociVersion", GoJSON.string(ociVersion)),
            ("id", GoJSON.string(id)),
            ("pid", String(status == .stopped ? 0 : pid)),
            ("status", GoJSON.string(status.rawValue)),
            ("bundle", GoJSON.string(bundle)),
            ("rootfs", GoJSON.string(rootfs)),
            ("created", GoJSON.string(created.rfc3339Nano)),
        ]
        if !annotations.isEmpty {
            let sorted = annotations.sorted { Array($0.key.utf8).lexicographicallyPrecedes(Array($1.key.utf8)) }
            fields.append(("annotations", GoJSON.object(sorted.map { (GoJSON.string($0.key), GoJSON.string($0.value)) },
                                                         indent: indent.map { $0 + "  " })))
        }
        fields.append(("owner", GoJSON.string(owner)))
        if status == .stopped, let exit { fields.append(("exit", Self.exitJSON(exit))) }
        return GoJSON.object(fields.map { (GoJSON.string($0.0), $0.1) }, indent: indent)
    }
}

/// The slice of Go's `encoding/json` output that runc's state needs, byte for byte.
enum GoJSON {
    /// An object of already-encoded keys and values. `indent` nil: compact (`{"a":1}`); else one member per
    /// line, indented two spaces past `indent`, with `": "` between key and value (`MarshalIndent`).
    static func object(_ members: [(key: String, value: String)], indent: String?) -> String {
        guard let indent else { return "{" + members.map { $0.key + ":" + $0.value }.joined(separator: ",") + "}" }
        guard !members.isEmpty else { return "{}" }
        let inner = indent + "  "
        return "{\n" + members.map { inner + $0.key + ": " + $0.value }.joined(separator: ",\n") + "\n" + indent + "}"
    }

    /// A JSON string as Go escapes it: `"` and `\`; `\n`, `\r`, `\t`; other control characters as `\u00XX`
    /// (lower-case hex; Go before 1.22, which Debian's runc 1.1.5 is built with, has no `\b`/`\f`); `<`, `>`,
    /// `&`, U+2028 and U+2029 as `\uXXXX` (its HTML-safe default).
    static func string(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "<", ">", "&", "\u{2028}", "\u{2029}", "\u{0}"..."\u{1f}": out += unicodeEscape(scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    private static func unicodeEscape(_ value: UInt32) -> String {
        let hex = String(value, radix: 16)
        return "\\u" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
    }
}

/// Go's JSON string encoding (HTML-safe, as runc's and logrus' encoders write it), for the CLI's other runc
/// outputs (log lines, events, features).
public enum GoJSONText {
    public static func string(_ text: String) -> String { GoJSON.string(text) }
}
