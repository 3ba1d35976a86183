import Glibc

/// What kind of file something is (from `st_mode` or `d_type`).
public enum FileType: Sendable, Equatable {
    case regular, directory, symbolicLink, fifo, socket, characterDevice, blockDevice, unknown

    /// From the `S_IFMT` bits of a mode.
    init(mode: mode_t) {
        self = switch mode & S_IFMT {
        case S_IFREG: .regular
        case S_IFDIR: .directory
        case S_IFLNK: .symbolicLink
        case S_IFIFO: .fifo
        case S_IFSOCK: .socket
        case S_IFCHR: .characterDevice
        case S_IFBLK: .blockDevice
        default: .unknown
        }
    }
}

/// Directory listings (opendir/readdir). Names are decoded from `d_name` once, here.
public enum Directory {
    /// One directory entry (never `.` or `..`).
    public struct Entry: Sendable, Equatable {
        public var name: String
        /// From `d_type`; `unknown` on file systems that do not report it.
        public var kind: FileType
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
        ((try? entries(path)) ?? []).map { $0.name }
    }

    private static func kind(_ type: UInt8) -> FileType {
        switch Int(type) {
        case Int(DT_REG): .regular
        case Int(DT_DIR): .directory
        case Int(DT_LNK): .symbolicLink
        case Int(DT_FIFO): .fifo
        case Int(DT_SOCK): .socket
        case Int(DT_CHR): .characterDevice
        case Int(DT_BLK): .blockDevice
        default: .unknown
        }
    }
}
