import Glibc
import LinuxSystem

/// Writes output bytes to a local descriptor (the supervisor's or an exec client's stdout/stderr) without
/// blocking the event loop when the descriptor is a pipe or socket, and reports each byte once it is written,
/// so the sender's credit is returned only for bytes that really left.
///
/// Regular files and terminals are written synchronously (they cannot be polled, or are the user's own).
/// A reader that went away (EPIPE) makes the sink discard: output is then consumed and dropped, as docker does.
final class OutputSink {
    let fd: FileDescriptor
    private unowned let loop: EventLoop
    private var pending: [[UInt8]] = []
    private var pendingOffset = 0
    private(set) var pendingBytes = 0
    private var registered = false
    private let pollable: Bool
    private var restoreFlags: Int32?
    private(set) var broken = false
    /// Called with the number of bytes written (or discarded) after each write.
    var onConsumed: (Int) -> Void = { _ in }
    /// Called when everything queued has been written.
    var onDrained: () -> Void = {}

    init(fd: FileDescriptor, loop: EventLoop) {
        self.fd = fd
        self.loop = loop
        var st = stat()
        fstat(fd.rawValue, &st)
        let type = st.st_mode & S_IFMT
        pollable = (type == S_IFIFO || type == S_IFSOCK)
        if pollable {
            let flags = fcntl(fd.rawValue, F_GETFL)
            if flags >= 0 && flags & O_NONBLOCK == 0 {
                restoreFlags = flags
                _ = fcntl(fd.rawValue, F_SETFL, flags | O_NONBLOCK)
            }
        }
    }

    /// Puts the descriptor's flags back as they were and stops watching it.
    func close() {
        if registered { loop.unregister(fd); registered = false }
        if let restoreFlags { _ = fcntl(fd.rawValue, F_SETFL, restoreFlags) }
        restoreFlags = nil
    }

    var isIdle: Bool { pendingBytes == 0 }

    func write(_ bytes: [UInt8]) {
        guard !bytes.isEmpty else { return }
        if broken { onConsumed(bytes.count); return }
        if !pollable {
            do { try fd.writeAll(bytes) } catch { broken = true }
            onConsumed(bytes.count)
            onDrained()
            return
        }
        pending.append(bytes)
        pendingBytes += bytes.count
        flush()
    }

    private func flush() {
        while let first = pending.first {
            let n: Int
            do {
                n = try first.withUnsafeBytes { raw in try fd.write(UnsafeRawBufferPointer(rebasing: raw[pendingOffset...])) }
            } catch {
                broken = true
                let dropped = pendingBytes
                pending.removeAll()
                pendingOffset = 0
                pendingBytes = 0
                onConsumed(dropped)
                break
            }
            if n == 0 { break }
            pendingOffset += n
            pendingBytes -= n
            onConsumed(n)
            if pendingOffset == first.count { pending.removeFirst(); pendingOffset = 0 }
        }
        let wantWrite = pendingBytes > 0
        if wantWrite && !registered {
            registered = (try? loop.register(fd, interest: .write) { [weak self] _ in self?.flush() }) != nil
        } else if !wantWrite && registered {
            loop.unregister(fd)
            registered = false
        }
        if pendingBytes == 0 { onDrained() }
    }
}
