import Glibc

/// Directory listings (opendir/readdir). Names are decoded from `d_name` once, here.
public enum Directory {
    /// What kind of file an entry is, from `d_type` (`unknown` on file systems that do not report it).
    public enum Kind: Sendable, Equatable {
        case regular, directory, symbolicLink, other, unknown
    }

    /// One directory entry (never `.` or `..`).
    public struct Entry: Sendable, Equatable {
        public var name: String
        public var kind: Kind
    }

    /// The entries of `path`, sorted by name.
    public static func entries(_ path: String) throws(SystemError) -> [Entry] {
        guard let dir = opendir(path) else { throw SystemError.last("opendir", path) }
        defer { closedir(dir) }
        var result: [Entry] = []
        // readdir returns NULL both at the end and on error; errno tells them apart.
        Glibc.errno = 0
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name != "." && name != ".." { result.append(Entry(name: name, kind: kind(entry.pointee.d_type))) }
        }
        if Glibc.errno != 0 { throw SystemError.last("readdir", path) }
        return result.sorted { $0.name < $1.name }
    }

    /// The names in `path`, sorted; empty when it cannot be read (a missing /sys class is not an error).
    public static func names(_ path: String) -> [String] {
        ((try? entries(path)) ?? []).map(\.name)
    }

    private static func kind(_ type: UInt8) -> Kind {
        switch Int(type) {
        case Int(DT_REG): .regular
        case Int(DT_DIR): .directory
        case Int(DT_LNK): .symbolicLink
        case Int(DT_UNKNOWN): .unknown
        default: .other
        }
    }
}
