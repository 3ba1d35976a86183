#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Glibc
import LinuxSystem

/// A minimal synchronous client for QEMU's machine protocol (QMP) on a Unix socket.
///
/// QMP is line-delimited JSON: the server greets with `{"QMP": …}`, the client must send `qmp_capabilities`,
/// then each command gets one `{"return": …}` or `{"error": …}` reply, interleaved with asynchronous
/// `{"event": …}` lines that are skipped here. Every call is bounded by a timeout; QEMU is trusted no more than
/// the guest (replies are size-capped and parsed defensively).
final class QMPClient {
    private let fd: FileDescriptor
    private var buffer: [UInt8] = []
    /// Longest reply line accepted.
    private let maxLine = 1 << 20

    /// Connects to `path` and negotiates capabilities, retrying the connect until `deadline` while `alive()`.
    init(path: String, deadline: ContinuousClock.Instant, alive: () -> Bool) throws(SupervisorError) {
        var lastError = "not attempted"
        var connected: FileDescriptor?
        while connected == nil {
            do { connected = try UnixSocket.connect(path: path) } catch {
                lastError = "\(error)"
                guard alive() else { throw SupervisorError(.bootFailed, "QEMU exited before its QMP socket appeared") }
                guard ContinuousClock.now < deadline else {
                    throw SupervisorError(.bootFailed, "QMP socket \(path) not reachable: \(lastError)")
                }
                sleep(for: .milliseconds(5))
            }
        }
        guard let connected else { throw SupervisorError(.bootFailed, "QMP: \(lastError)") }
        fd = connected
        do throws(SupervisorError) {
            let greeting = try readReply(deadline: deadline, acceptGreeting: true)
            guard greeting.isGreeting else { throw SupervisorError(.bootFailed, "QMP: no greeting from QEMU") }
            _ = try command("qmp_capabilities", deadline: deadline)
        } catch {
            fd.close()
            throw error
        }
    }

    deinit { fd.close() }

    /// Runs `name` and waits for its reply. Throws on a QMP error reply, a closed socket or the deadline.
    @discardableResult
    func command(_ name: String, deadline: ContinuousClock.Instant) throws(SupervisorError) -> QMPReply {
        let line = Array("{\"execute\":\"\(name)\"}\n".utf8)
        do { try fd.writeAll(line) } catch { throw SupervisorError(.bootFailed, "QMP \(name): \(error)") }
        let reply = try readReply(deadline: deadline, acceptGreeting: false)
        if let error = reply.error {
            throw SupervisorError(.bootFailed, "QMP \(name): \(error.klass ?? "error"): \(error.desc ?? "")")
        }
        return reply
    }

    /// `query-status`: QEMU's run state ("running", "paused", "shutdown", "guest-panicked", …).
    func status(deadline: ContinuousClock.Instant) throws(SupervisorError) -> String {
        try command("query-status", deadline: deadline).status?.status ?? "unknown"
    }

    /// Reads lines until a command reply (or, when `acceptGreeting`, the greeting), skipping events.
    private func readReply(deadline: ContinuousClock.Instant, acceptGreeting: Bool) throws(SupervisorError) -> QMPReply {
        while true {
            while let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                let line = Array(buffer[..<newline])
                buffer.removeSubrange(...newline)
                guard !line.allSatisfy({ $0 == 32 || $0 == 13 }) else { continue }
                guard let reply = try? JSONDecoder().decode(QMPReply.self, from: Data(line)) else {
                    throw SupervisorError(.bootFailed, "QMP: unparsable reply \"\(String(decoding: line.prefix(80), as: UTF8.self))\"")
                }
                if reply.event != nil { continue }
                if reply.isGreeting && !acceptGreeting { continue }
                return reply
            }
            guard buffer.count <= maxLine else { throw SupervisorError(.bootFailed, "QMP: reply line too long") }
            let remaining = deadline - ContinuousClock.now
            guard remaining > .zero else { throw SupervisorError(.bootFailed, "QMP: no reply before the deadline") }
            var pfd = pollfd(fd: fd.rawValue, events: Int16(POLLIN), revents: 0)
            let ready = poll(&pfd, 1, Int32(clamping: remaining.milliseconds + 1))
            guard ready > 0 else { continue }
            var chunk = [UInt8](repeating: 0, count: 8192)
            let n: Int?
            do { n = try chunk.withUnsafeMutableBytes { (raw) throws(SystemError) in try fd.read(into: raw) } } catch {
                throw SupervisorError(.bootFailed, "QMP: \(error)")
            }
            guard let n else { continue }
            guard n > 0 else { throw SupervisorError(.bootFailed, "QMP: QEMU closed the socket") }
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
    struct StatusBody: Decodable {
        var status: String?
        var running: Bool?
    }
    var isGreeting = false
    var hasReturn = false
    var error: ErrorBody?
    var event: String?
    /// The `return` object of `query-status`.
    var status: StatusBody?

    enum CodingKeys: String, CodingKey { case qmp = "QMP", ret = "return", error, event }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        isGreeting = container.contains(.qmp)
        hasReturn = container.contains(.ret)
        error = try? container.decodeIfPresent(ErrorBody.self, forKey: .error)
        event = try? container.decodeIfPresent(String.self, forKey: .event)
        status = try? container.decodeIfPresent(StatusBody.self, forKey: .ret)
    }
}
