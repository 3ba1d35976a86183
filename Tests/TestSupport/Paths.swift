import Foundation
import Glibc
import LinuxSystem

/// The one error every test helper throws: a sentence saying what went wrong and, where it helps, how to fix it.
public struct HarnessError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Executables `swift build` put next to the test bundle (`swift test` builds every executable product).
public enum BuiltProduct {
    /// The built binary `name` (`vm-init`, `fc-supervisor`, `fc-addr`, …), found by walking up from the test
    /// bundle: the bundle sits in `.build/<triple>/debug/<X>.xctest/…`, the executables in `.build/<triple>/debug`.
    public static func path(_ name: String) throws(HarnessError) -> String {
        var buffer = [CChar](repeating: 0, count: 4096)
        // LinuxSystem has no readlink yet; this is the test harness's only use of it.
        let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard n > 0 else { throw HarnessError("cannot read /proc/self/exe") }
        var directory = String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        for _ in 0..<4 {
            guard let slash = directory.lastIndex(of: "/") else { break }
            directory = String(directory[..<slash])
            let candidate = directory + "/" + name
            if access(candidate, X_OK) == 0 { return candidate }
        }
        throw HarnessError("\(name) is not built next to the test bundle; run `swift build --product \(name)`")
    }
}

/// Files of the repository, found from this source file's path (tests have no bundle resources).
public enum RepoPath {
    /// The repository root: this file is `<root>/Tests/TestSupport/Paths.swift`.
    public static let root: String = {
        var path = #filePath
        for _ in 0..<3 {
            if let slash = path.lastIndex(of: "/") { path = String(path[..<slash]) }
        }
        return path
    }()

    /// `<root>/<relative>`.
    public static func file(_ relative: String) -> String { root + "/" + relative }
}

/// A fresh directory (mkdtemp), removed with everything in it by ``remove()``. Not removed on deinit: some
/// tests keep state for inspection, and a directory that outlives its test is easier to debug than a lost one.
public final class TemporaryDirectory: Sendable {
    public let path: String

    /// `prefix` is a path prefix; six random characters are appended. /var/tmp survives vm-init's tmpfs on /tmp.
    public init(prefix: String = "/var/tmp/fc-test-") throws(HarnessError) {
        var template = Array((prefix + "XXXXXX").utf8CString)
        // LinuxSystem has no mkdtemp yet.
        let made = template.withUnsafeMutableBufferPointer { buffer in buffer.baseAddress.map { mkdtemp($0) != nil } ?? false }
        guard made else { throw HarnessError("mkdtemp \(prefix)XXXXXX failed: \(String(cString: strerror(errno)))") }
        path = String(decoding: template.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// `<path>/<name>`.
    public func file(_ name: String) -> String { path + "/" + name }

    /// Removes the directory and its contents; a directory already gone is not an error.
    public func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }
}

/// Whole-file reads for logs, outputs and /proc files.
public enum FileContents {
    /// The file's bytes, or nil when it cannot be opened or read.
    public static func bytes(_ path: String) -> [UInt8]? {
        guard let fd = try? FileDescriptor.open(path, flags: O_RDONLY) else { return nil }
        defer { fd.close() }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n: Int?
            do { n = try chunk.withUnsafeMutableBytes { try fd.read(into: $0) } } catch { return nil }
            guard let n, n > 0 else { return out }
            out += chunk[0..<n]
        }
    }

    /// The file as UTF-8 text (invalid bytes replaced), or nil when it cannot be read.
    public static func text(_ path: String) -> String? { bytes(path).map { String(decoding: $0, as: UTF8.self) } }
}
