import Glibc
import LinuxSystem

/// The one-shot report from a spawned child (the per-VM supervisor, an exec relay) to the call that spawned it:
/// `ok` once the child is where the caller may return (created / started), else `error: <message>`, then EOF.
/// EOF with nothing written means the child died first; the caller then reports that.
///
/// The write end is the one descriptor the child inherits beyond stdio (`SpawnOptions.inheritedDescriptors`);
/// its number travels in argv (`--ready-fd N`). The child marks it close-on-exec at once so the VMM never holds
/// it, which would keep the caller waiting for an EOF that never comes.
enum ReadyPipe {
    enum Report: Equatable {
        case ready
        case failed(String)
        /// EOF without a report.
        case died
    }

    static func make() throws(RuntimeFailure) -> Pipe {
        do { return try Pipe() } catch { throw RuntimeFailure("cannot create a pipe: \(error)") }
    }

    /// Blocks until the child reports or exits (EOF).
    static func wait(_ readEnd: FileDescriptor) -> Report {
        let bytes = (try? readEnd.readToEnd(limit: 64 * 1024)) ?? []
        return parse(String(decoding: bytes, as: UTF8.self))
    }

    static func parse(_ text: String) -> Report {
        let line = text.split(separator: "\n", maxSplits: 1).first.map(String.init) ?? ""
        if line == "ok" { return .ready }
        if line.hasPrefix("error: ") { return .failed(String(line.dropFirst(7))) }
        return .died
    }

    /// The child's end: reports once, then closes.
    final class Writer {
        private var fd: FileDescriptor?

        /// Takes over inherited descriptor `number` (marking it close-on-exec); nil when it is not open.
        init?(number: Int32) {
            let fd = FileDescriptor(rawValue: number)
            guard number > 2, fd.isOpen else { return nil }
            try? fd.setCloexec(true)
            self.fd = fd
        }

        var reported: Bool { fd == nil }

        func ready() { deliver("ok") }

        func failed(_ message: String) { deliver("error: " + message.split(whereSeparator: \.isNewline).joined(separator: " ")) }

        private func deliver(_ line: String) {
            guard let fd else { return }
            // A caller that is gone no longer cares; nothing else to tell it.
            try? fd.writeAll(Array((line + "\n").utf8))
            fd.close()
            self.fd = nil
        }
    }
}
