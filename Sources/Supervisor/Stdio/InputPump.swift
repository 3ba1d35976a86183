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
final class InputPump {
    let fd: FileDescriptor
    private unowned let loop: EventLoop
    private weak var target: (any StdinTarget)?
    private var registered = false
    private var pollable = true
    private(set) var finished = false
    /// Small reads (a terminal, a trickle) go through here and are copied into their frame.
    private let buffer = ReadBuffer(capacity: 64 * 1024)
    /// The last read filled what it asked for: the next one goes straight into an array that becomes the frame's
    /// payload (no copy of the bytes in user space).
    private var busy = false
    /// Largest read (and so stdin frame) taken at once.
    static let maxRead = 256 * 1024
    /// Holds a chunk read while credit was short: never read more than credit, so this stays empty, except
    /// for terminals in canonical mode that return whole lines.
    private var carry: [UInt8] = []
    /// How much of `carry` was sent (a head index: no shifting of the rest).
    private var carryOffset = 0
    private var hasCarry: Bool { carryOffset < carry.count }

    init(fd: FileDescriptor, loop: EventLoop, target: any StdinTarget) {
        self.fd = fd
        self.loop = loop
        self.target = target
    }

    /// Starts pumping. Call ``creditChanged()`` whenever the target's credit grows.
    func start() {
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
        let credit = min(target.stdinCredit, busy ? Self.maxRead : buffer.capacity)
        guard credit > 0 else {
            if pollable { try? loop.modify(fd, interest: []) }
            return
        }
        if busy && credit > buffer.capacity {
            readIntoArray(credit, target)
        } else {
            let result: Int?
            do {
                result = try buffer.read(from: fd, upTo: credit)
            } catch {
                result = 0  // EIO on a hung-up terminal and the like: treat as end of input.
            }
            guard let n = result else { busy = false; return }
            if n == 0 { return endOfInput(target) }
            busy = n == credit
            let sent = target.sendStdin(buffer.prefix(n))
            if sent < n { carry = Array(buffer.prefix(n)[sent...]); carryOffset = 0 }
        }
        if !pollable && !hasCarry { loop.post { [weak self] in self?.readAvailable() } }
    }

    /// One read of up to `count` bytes into a new array, sent as it is.
    private func readIntoArray(_ count: Int, _ target: any StdinTarget) {
        var result: Int?
        var bytes = [UInt8](unsafeUninitializedCapacity: count) { space, filled in
            // EIO on a hung-up terminal and the like: treat as end of input.
            do { result = try fd.read(into: UnsafeMutableRawBufferPointer(space)) } catch { result = 0 }
            filled = result ?? 0
        }
        guard let n = result else { busy = false; return }
        if n == 0 { return endOfInput(target) }
        busy = n == count
        // A short read would pin the whole allocation while queued: send a right-sized copy instead.
        if n < count / 2 { bytes = bytes.withUnsafeBufferPointer { Array($0) } }
        let sent = target.sendStdin(bytes)
        if sent < n { carry = bytes; carryOffset = sent }
    }

    private func endOfInput(_ target: any StdinTarget) {
        stop()
        target.closeStdin()
    }

    private func sendCarry() {
        guard let target else { return }
        let offset = carryOffset
        carryOffset += carry.withUnsafeBytes { target.sendStdin(UnsafeRawBufferPointer(rebasing: $0[offset...])) }
        if carryOffset == carry.count { carry = []; carryOffset = 0 }
    }
}

