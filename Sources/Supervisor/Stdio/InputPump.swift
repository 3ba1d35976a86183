import Glibc
import LinuxSystem

/// Where an ``InputPump`` sends what it reads, within the credit the receiver granted.
package protocol StdinTarget: AnyObject {
    /// Bytes that may be sent now.
    var stdinCredit: Int { get }
    /// Sends the bytes (never more than `stdinCredit`); returns how many were taken.
    func sendStdin(_ bytes: UnsafeRawBufferPointer) -> Int
    /// The same for bytes in an array of their own: when all are taken, the array itself is the frame's payload
    /// (queued, not copied).
    func sendStdin(_ bytes: [UInt8]) -> Int
    /// Sends end-of-file.
    func closeStdin()
}

/// Reads a local descriptor (the supervisor's or an exec client's stdin) and forwards it, reading only while
/// the target has credit, so a slow guest process back-pressures the local writer instead of growing memory.
///
/// Terminals and pipes are polled; regular files and /dev/null (which epoll refuses) are read in loop turns.
/// The descriptor's flags are never changed (it is usually shared with the user's shell).
///
/// With `readsWithoutWaiting` every read is `preadv2(RWF_NOWAIT)`: for a pipe another process may read too (an
/// exec client's stdin, passed to the supervisor), where epoll's "readable" can be stale by the time we read
/// and a plain read on the blocking descriptor would stall the whole loop. Nothing to read is then a no-op.
final class InputPump {
    let fd: FileDescriptor
    private unowned let loop: EventLoop
    private weak var target: (any StdinTarget)?
    private let readsWithoutWaiting: Bool
    /// Called once end of file was read and passed on (after ``stop()``); the owner may close the descriptor.
    var onEndOfInput: () -> Void = {}
    private var registered = false
    private var pollable = true
    private(set) var finished = false
    /// How much the next read asks for: it doubles while reads fill what they ask (a busy pipe) and falls to
    /// what the last read brought otherwise, so a pipe's reads fill their arrays exactly and a terminal's
    /// keystrokes get small ones. A read that filled a request cut short by credit keeps the size.
    private var readSize = InputPump.minRead
    static let minRead = 4096
    /// Largest read (and so stdin frame) taken at once: the protocol's default `max_payload`, and the capacity
    /// a pipe being read is grown to (best effort), so a writer that keeps up fills 1 MiB frames. In the QEMU
    /// guest of BENCHMARKS.md section 8, vm-init spends about 4x the user time per stdin byte on the 64 KiB
    /// frames a default pipe yields (each frame is one more decode, write and grant there).
    static let maxRead = 1 << 20
    /// Most reads that fill one frame.
    static let maxReadsPerFrame = 8
    /// Holds a chunk read while credit was short: never read more than credit, so this stays empty, except
    /// for terminals in canonical mode that return whole lines.
    private var carry: [UInt8] = []
    /// How much of `carry` was sent (a head index: no shifting of the rest).
    private var carryOffset = 0
    private var hasCarry: Bool { carryOffset < carry.count }

    init(fd: FileDescriptor, loop: EventLoop, target: any StdinTarget, readsWithoutWaiting: Bool = false) {
        self.fd = fd
        self.loop = loop
        self.target = target
        self.readsWithoutWaiting = readsWithoutWaiting
    }

    /// Starts pumping. Call ``creditChanged()`` whenever the target's credit grows.
    func start() {
        if (try? fd.fileType()) == .fifo { _ = try? fd.setPipeCapacity(Self.maxRead) }
        do {
            try loop.register(fd, interest: .read) { [weak self] _ in self?.readAvailable() }
            registered = true
        } catch {
            pollable = false  // EPERM: a regular file or /dev/null.
            loop.post { [weak self] in self?.readAvailable() }
        }
    }

    func creditChanged() {
        guard !finished else { return }
        if hasCarry { sendCarry() }
        guard !hasCarry else { return }
        if pollable {
            if registered { try? loop.modify(fd, interest: .read) }
        } else {
            loop.post { [weak self] in self?.readAvailable() }
        }
    }

    /// Stops without sending end-of-file.
    func stop() {
        finished = true
        if registered { loop.unregister(fd); registered = false }
    }

    private func readAvailable() {
        guard !finished, let target else { return }
        if hasCarry { sendCarry() }
        guard !hasCarry else {
            if pollable { try? loop.modify(fd, interest: []) }
            return
        }
        let credit = min(target.stdinCredit, readSize)
        guard credit > 0 else {
            if pollable { try? loop.modify(fd, interest: []) }
            return
        }
        readIntoArray(credit, target)
        if !pollable && !hasCarry { loop.post { [weak self] in self?.readAvailable() } }
    }

    /// Reads up to `count` bytes into a new array that becomes the frame's payload as it is (no copy of the
    /// bytes in user space). After the first read, what the descriptor already holds more (FIONREAD) is read
    /// into the same array, so a pipe whose writer keeps up (64 KiB per read) still makes frames of up to
    /// ``maxRead``: fewer frames, wake-ups and system calls on every hop to the guest process.
    private func readIntoArray(_ count: Int, _ target: any StdinTarget) {
        var result: Int?
        var bytes = [UInt8](unsafeUninitializedCapacity: count) { space, filled in
            let raw = UnsafeMutableRawBufferPointer(space)
            // EIO on a hung-up terminal and the like: treat as end of input.
            do { result = try read(into: raw) } catch { result = 0 }
            var total = result ?? 0
            for _ in 1..<Self.maxReadsPerFrame where total > 0 && total < count {
                // Only what is there: the descriptor is usually blocking, and it is not ours to change.
                guard let more = try? fd.bytesAvailable(), more > 0,
                      let n = try? read(into: UnsafeMutableRawBufferPointer(rebasing: raw[total..<min(count, total + more)])),
                      n > 0 else { break }
                total += n
            }
            if result != nil { result = total }
            filled = total
        }
        guard let n = result else { return }
        if n == 0 { return endOfInput(target) }
        readSize = n == count ? max(readSize, min(2 * count, Self.maxRead)) : max((n + Self.minRead - 1) / Self.minRead * Self.minRead, Self.minRead)
        // A short read would pin the whole allocation while queued: send a right-sized copy instead.
        if n < count / 2 { bytes = bytes.withUnsafeBufferPointer { Array($0) } }
        let sent = target.sendStdin(bytes)
        if sent < n { carry = bytes; carryOffset = sent }
    }

    /// One read; nil when there is nothing now (a non-blocking descriptor, or one read without waiting).
    private func read(into buffer: UnsafeMutableRawBufferPointer) throws(SystemError) -> Int? {
        readsWithoutWaiting ? try fd.readWithoutWaiting(into: buffer).value : try fd.read(into: buffer)
    }

    private func endOfInput(_ target: any StdinTarget) {
        stop()
        target.closeStdin()
        onEndOfInput()
    }

    private func sendCarry() {
        guard let target else { return }
        let offset = carryOffset
        carryOffset += carry.withUnsafeBytes { target.sendStdin(UnsafeRawBufferPointer(rebasing: $0[offset...])) }
        if carryOffset == carry.count { carry = []; carryOffset = 0 }
    }
}

