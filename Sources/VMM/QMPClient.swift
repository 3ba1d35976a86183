#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import LinuxSystem

/// A client for QEMU's machine protocol (QMP) on a Unix socket.
///
/// QMP is line-delimited JSON: the server greets with `{"QMP": …}`, the client must send `qmp_capabilities`,
/// then each command gets one `{"return": …}` or `{"error": …}` reply, interleaved with asynchronous
/// `{"event": …}` lines that are skipped here. QEMU is trusted no more than the guest: replies are size-capped
/// and parsed defensively.
///
/// Two phases: during boot, ``init(path:deadline:alive:)`` negotiates with blocking reads under the boot
/// deadline; once the supervisor's loop runs, ``send(_:on:log:)`` writes commands and reads their replies on
/// the loop, never blocking it.
final class QMPClient {
    private let fd: FileDescriptor
    private var buffer: [UInt8] = []
    /// Longest reply line accepted.
    private let maxLine = 1 << 20
    /// Loop mode: commands not yet written, and the names of those written but not yet answered.
    private var unsent: [UInt8] = []
    private var awaiting: [Pending] = []
    /// A command written (or queued) and not yet answered, with who wants to know the answer.
    private struct Pending {
        var name: String
        var completion: ((Result<QMPReply, VMMError>) -> Void)?
    }
    private weak var loop: EventLoop?
    private var log: (String) -> Void = { _ in }
    /// QEMU's version from the greeting ("7.2.22"), for a checkpoint's manifest.
    private(set) var qemuVersion = ""

    /// Connects to `path` and negotiates capabilities, retrying the connect until `deadline` while `alive()`.
    init(path: String, deadline: Clock.Instant, alive: () -> Bool) throws(VMMError) {
        var lastError: SystemError?
        var connected: FileDescriptor?
        while connected == nil {
            do { connected = try UnixSocket.connect(path: path) } catch {
                lastError = error
                guard alive() else { throw VMMError(.bootFailed, "QEMU exited before its QMP socket appeared") }
                guard !deadline.hasPassed else {
                    throw VMMError(.bootFailed, "QMP socket \(path) not reachable: \(error)", cause: error)
                }
                Clock.sleep(.milliseconds(5))
            }
        }
        guard let connected else { throw VMMError(.bootFailed, "QMP socket \(path) not reachable", cause: lastError) }
        fd = connected
        do {
            let greeting = try readReply(deadline: deadline, acceptGreeting: true)
            guard greeting.isGreeting else { throw VMMError(.bootFailed, "QMP: no greeting from QEMU") }
            qemuVersion = greeting.version ?? ""
            try fd.writeAll(Self.line("qmp_capabilities"))
            try check(readReply(deadline: deadline, acceptGreeting: false), name: "qmp_capabilities")
        } catch let error as VMMError {
            fd.close()
            throw error
        } catch {
            fd.close()
            throw VMMError(.bootFailed, "QMP: \(error)", cause: error as? SystemError)
        }
    }

    deinit {
        loop?.unregister(fd)
        fd.close()
    }

    /// Sends `name` without blocking: the line is written when the socket takes it and the reply is read on
    /// `loop`. `completion` (on the loop) gets nil for a `return` and the error for an error reply or a broken
    /// socket; without one, errors are reported through `log`.
    func send(_ name: String, on loop: EventLoop, log: @escaping (String) -> Void,
              completion: ((VMMError?) -> Void)? = nil) {
        request(Self.command(name), name: name, on: loop, log: log, completion: completion.map { done in
            { result in
                if case .failure(let error) = result { done(error) } else { done(nil) }
            }
        })
    }

    /// Sends one command line (`{"execute":…,"arguments":…}`) without blocking; `completion` gets the reply.
    func request(_ json: String, name: String, on loop: EventLoop, log: @escaping (String) -> Void,
                 completion: ((Result<QMPReply, VMMError>) -> Void)?) {
        if self.loop == nil {
            self.log = log
            do {
                try fd.setNonBlocking()
                try loop.register(fd, interest: .read) { [unowned self] events in self.ready(events) }
            } catch {
                let failure = VMMError(.requestFailed, "QMP \(name): \(error)", cause: error)
                return completion.map { $0(.failure(failure)) } ?? log(failure.message)
            }
            self.loop = loop
        }
        unsent += Array((json + "\n").utf8)
        awaiting.append(Pending(name: name, completion: completion))
        flush()
    }

    /// Blocking form for before the loop runs (a restore waits for QEMU to load its snapshot).
    func execute(_ json: String, name: String, deadline: Clock.Instant) throws(VMMError) -> QMPReply {
        do { try fd.writeAll(Array((json + "\n").utf8)) } catch {
            throw VMMError(.bootFailed, "QMP \(name): \(error)", cause: error)
        }
        let reply = try readReply(deadline: deadline, acceptGreeting: false)
        try check(reply, name: name)
        return reply
    }

    static func command(_ name: String) -> String { "{\"execute\":\"\(name)\"}" }
    private static func line(_ name: String) -> [UInt8] { Array((command(name) + "\n").utf8) }

    private func check(_ reply: QMPReply, name: String) throws(VMMError) {
        if let error = reply.error {
            throw VMMError(.bootFailed, "QMP \(name): \(error.klass ?? "error"): \(error.desc ?? "")")
        }
    }

    // MARK: - Loop mode

    private func ready(_ events: EventLoop.Events) {
        if events.contains(.writable) { flush() }
        guard events.contains(.readable) || events.contains(.hangup) || events.contains(.error) else { return }
        // After `quit`, QEMU closing (or resetting) the socket is the expected answer.
        let quitting = awaiting.last?.name == "quit"
        var chunk = [UInt8](repeating: 0, count: 8192)
        while true {
            let n: Int?
            do { n = try chunk.withUnsafeMutableBytes { (raw) throws(SystemError) in try fd.read(into: raw) } } catch {
                return stopWatching(quitting ? nil : "QMP: \(error)")
            }
            guard let n else { break }
            guard n > 0 else { return stopWatching(awaiting.isEmpty || quitting ? nil : "QMP: QEMU closed the socket") }
            buffer += chunk[..<n]
        }
        do throws(VMMError) {
            while let reply = try nextReply(acceptGreeting: false) {
                let pending = awaiting.isEmpty ? Pending(name: "?") : awaiting.removeFirst()
                do throws(VMMError) { try check(reply, name: pending.name) } catch {
                    pending.completion.map { $0(.failure(error)) } ?? log(error.message)
                    continue
                }
                pending.completion?(.success(reply))
            }
            guard buffer.count <= maxLine else { return stopWatching("QMP: reply line too long") }
        } catch {
            log(error.message)
        }
    }

    private func flush() {
        guard let loop, !unsent.isEmpty else { return }
        do {
            let n = try unsent.withUnsafeBytes { (raw) throws(SystemError) in try fd.write(raw) }
            unsent.removeFirst(n)
            try loop.modify(fd, interest: unsent.isEmpty ? .read : [.read, .write])
        } catch {
            stopWatching("QMP: \(error)")
        }
    }

    private func stopWatching(_ reason: String?) {
        if let reason { log(reason) }
        loop?.unregister(fd)
        loop = nil
        unsent.removeAll()
        // Whoever waits for an answer gets one: the socket is gone.
        let orphaned = awaiting
        awaiting.removeAll()
        for pending in orphaned {
            pending.completion?(.failure(VMMError(.requestFailed, "QMP \(pending.name): " + (reason ?? "QEMU closed the socket"))))
        }
    }

    // MARK: - Replies

    /// The next complete reply line in `buffer` (events skipped), nil when none is complete.
    private func nextReply(acceptGreeting: Bool) throws(VMMError) -> QMPReply? {
        while let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
            let line = Array(buffer[..<newline])
            buffer.removeSubrange(...newline)
            guard !line.allSatisfy({ $0 == 32 || $0 == 13 }) else { continue }
            guard let reply = try? JSONDecoder().decode(QMPReply.self, from: Data(line)) else {
                throw VMMError(.bootFailed, "QMP: unparsable reply \"\(String(decoding: line.prefix(80), as: UTF8.self))\"")
            }
            if reply.event != nil { continue }
            if reply.isGreeting && !acceptGreeting { continue }
            return reply
        }
        return nil
    }

    /// Reads until a command reply (or, when `acceptGreeting`, the greeting), blocking under `deadline`.
    private func readReply(deadline: Clock.Instant, acceptGreeting: Bool) throws(VMMError) -> QMPReply {
        while true {
            if let reply = try nextReply(acceptGreeting: acceptGreeting) { return reply }
            guard buffer.count <= maxLine else { throw VMMError(.bootFailed, "QMP: reply line too long") }
            let readable: Bool
            do { readable = try fd.waitReadable(until: deadline) } catch {
                throw VMMError(.bootFailed, "QMP: \(error)", cause: error)
            }
            guard readable else { throw VMMError(.bootFailed, "QMP: no reply before the deadline") }
            var chunk = [UInt8](repeating: 0, count: 8192)
            let n: Int?
            do { n = try chunk.withUnsafeMutableBytes { (raw) throws(SystemError) in try fd.read(into: raw) } } catch {
                throw VMMError(.bootFailed, "QMP: \(error)", cause: error)
            }
            guard let n else { continue }
            guard n > 0 else { throw VMMError(.bootFailed, "QMP: QEMU closed the socket") }
            buffer += chunk[..<n]
        }
    }
}

/// One QMP line: greeting, reply, error or event (only the fields the supervisor uses).
struct QMPReply: Decodable {
    struct ErrorBody: Decodable {
        var klass: String?
        var desc: String?
        enum CodingKeys: String, CodingKey { case klass = "class", desc }
    }
    /// `return` of `query-status` / `query-migrate`: the run state or the migration's status.
    struct Return: Decodable {
        var status: String?
        var errorDesc: String?
        enum CodingKeys: String, CodingKey { case status, errorDesc = "error-desc" }
    }
    private struct Greeting: Decodable {
        struct Version: Decodable {
            struct Triple: Decodable { var major: Int; var minor: Int; var micro: Int }
            var qemu: Triple
        }
        var version: Version?
    }
    var isGreeting = false
    var error: ErrorBody?
    var event: String?
    var result: Return?
    /// The greeting's QEMU version, "major.minor.micro".
    var version: String?

    enum CodingKeys: String, CodingKey { case qmp = "QMP", error, event, result = "return" }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        isGreeting = container.contains(.qmp)
        error = try? container.decodeIfPresent(ErrorBody.self, forKey: .error)
        event = try? container.decodeIfPresent(String.self, forKey: .event)
        result = try? container.decodeIfPresent(Return.self, forKey: .result)
        if let v = (try? container.decodeIfPresent(Greeting.self, forKey: .qmp))??.version?.qemu {
            version = "\(v.major).\(v.minor).\(v.micro)"
        }
    }
}
