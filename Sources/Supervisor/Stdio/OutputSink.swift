import LinuxSystem
import VsockProtocol

/// Writes output bytes to a local descriptor (the supervisor's or an exec client's stdout/stderr) without
/// blocking the event loop when the descriptor is a pipe or socket, and reports each byte once it is written,
/// so the sender's credit is returned only for bytes that really left.
///
/// Regular files and terminals are written synchronously (they cannot be polled, or are the user's own).
/// A reader that went away (EPIPE) makes the sink discard: output is then consumed and dropped, as docker does.
///
/// With `writesWithoutWaiting` (a pipe another process handed over: an exec client's stdout, PROTOCOL.md §11.3)
/// the descriptor's flags are never touched, since the pipe is shared with the client and the user's shell:
/// every write is `pwritev2(RWF_NOWAIT)`, and what does not fit waits for epoll's "writable".
final class OutputSink {
    let fd: FileDescriptor
    private unowned let loop: EventLoop
    /// Arrays as received (never merged or copied), and how much of the first is written.
    private var pending = ChunkQueue<[UInt8]>()
    private var pendingOffset = 0
    private(set) var pendingBytes = 0
    private var registered = false
    private let pollable: Bool
    private let writesWithoutWaiting: Bool
    /// Whether ``close()`` must make the descriptor blocking again (it was blocking when handed to us).
    private var restoreBlocking = false
    private(set) var broken = false
    /// Called with the number of bytes written (or discarded) after each write.
    var onConsumed: (Int) -> Void = { _ in }
    /// Called when everything queued has been written.
    var onDrained: () -> Void = {}

    init(fd: FileDescriptor, loop: EventLoop, writesWithoutWaiting: Bool = false) {
        self.fd = fd
        self.loop = loop
        self.writesWithoutWaiting = writesWithoutWaiting
        let type = try? fd.fileType()
        pollable = type == .fifo || type == .socket
        // A descriptor whose flags cannot be read or set stays as it is: writes then block, but still arrive.
        if pollable, !writesWithoutWaiting, (try? fd.isNonBlocking()) == false, (try? fd.setNonBlocking()) != nil {
            restoreBlocking = true
        }
    }

    /// Puts the descriptor's flags back as they were and stops watching it.
    func close() {
        if registered { loop.unregister(fd); registered = false }
        if restoreBlocking { try? fd.setNonBlocking(false) }
        restoreBlocking = false
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
                n = try first.withUnsafeBytes { raw throws(SystemError) in
                    let rest = UnsafeRawBufferPointer(rebasing: raw[pendingOffset...])
                    return try (writesWithoutWaiting ? fd.writeWithoutWaiting(rest) : fd.writeSome(rest)).value ?? 0
                }
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
