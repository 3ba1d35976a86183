import Glibc
import LinuxSystem
import Testing
import VsockProtocol

/// Runs the built vm-init as a real PID 1 in fresh PID, mount and UTS namespaces, listening on a Unix socket
/// under /var/tmp (vm-init mounts tmpfs over /tmp and /run inside its namespace).
final class GuestUnderTest {
    let directory: String
    let socketPath: String
    let logPath: String
    let unsharePID: Int32
    private var stopped = false

    /// The built vm-init next to the test bundle (`swift test` builds every executable product).
    static func binaryPath() throws -> String {
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard n > 0 else { throw HarnessError("cannot read /proc/self/exe") }
        var dir = String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        for _ in 0..<4 {
            guard let slash = dir.lastIndex(of: "/") else { break }
            dir = String(dir[..<slash])
            let candidate = dir + "/vm-init"
            if access(candidate, X_OK) == 0 { return candidate }
        }
        throw HarnessError("vm-init binary not found near the test bundle; run `swift build --product vm-init`")
    }

    /// `network`: also a fresh network namespace (for tests that configure interfaces).
    init(extraArguments: [String] = [], network: Bool = false) throws {
        var template = Array("/var/tmp/vminit-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { buf -> Bool in
            guard let base = buf.baseAddress else { return false }
            return mkdtemp(base) != nil
        }
        guard made else { throw HarnessError("mkdtemp failed") }
        directory = String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
        socketPath = directory + "/agent.sock"
        logPath = directory + "/vm-init.log"
        let log = try FileDescriptor.open(logPath, flags: O_WRONLY | O_CREAT | O_TRUNC, mode: 0o644)
        defer { log.close() }
        let null = try FileDescriptor.open("/dev/null", flags: O_RDONLY)
        defer { null.close() }
        let binary = try Self.binaryPath()
        unsharePID = try ChildProcess.launch(
            "/usr/bin/unshare",
            arguments: ["--pid", "--mount", "--uts"] + (network ? ["--net"] : []) + ["--fork", "--kill-child", binary, "--listen", "unix:" + socketPath,
                        "--log", "debug"] + extraArguments,
            environment: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
            standardInput: null, standardOutput: log, standardError: log, parentDeathSignal: nil)
    }

    /// Connects (retrying while vm-init starts) and completes the hello exchange.
    func connect(window: UInt32 = ProtocolConstants.defaultWindow, timeout: Double = 20) throws -> TestClient {
        let deadline = now() + timeout
        while true {
            if let fd = try? UnixSocket.connect(path: socketPath) {
                let client = TestClient(fd: fd, window: window)
                try client.handshake()
                return client
            }
            if now() > deadline { throw HarnessError("vm-init did not listen within \(timeout) s; log:\n\(log())") }
            if let exited = try? ChildProcess.wait(pid: unsharePID, nonBlocking: true) {
                stopped = true
                throw HarnessError("unshare exited early (\(exited.termination)); log:\n\(log())")
            }
            usleep(10_000)
        }
    }

    /// vm-init's log so far.
    func log() -> String {
        guard let fd = try? FileDescriptor.open(logPath, flags: O_RDONLY) else { return "" }
        defer { fd.close() }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while let n = try? chunk.withUnsafeMutableBytes({ try fd.read(into: $0) }), n > 0 {
            out += chunk[0..<n]
        }
        return String(decoding: out.suffix(8000), as: UTF8.self)
    }

    /// Waits for the namespace to end by itself (after a shutdown); returns its termination or nil on timeout.
    func waitForExit(timeout: Double) -> ProcessTermination? {
        let deadline = now() + timeout
        while now() < deadline {
            if let r = try? ChildProcess.wait(pid: unsharePID, nonBlocking: true) {
                stopped = true
                return r.termination
            }
            usleep(20_000)
        }
        return nil
    }

    /// Kills the namespace (unshare --kill-child takes vm-init and every process in it along).
    func stop() {
        if !stopped {
            stopped = true
            _ = kill(unsharePID, SIGKILL)
            _ = try? ChildProcess.wait(pid: unsharePID, nonBlocking: false)
        }
        unlink(socketPath)
        unlink(logPath)
        rmdir(directory)
    }

    deinit { stop() }
}

struct HarnessError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Monotonic seconds.
func now() -> Double { Double(EventLoop.now()) / 1e9 }

/// Runs `body` against a fresh vm-init namespace and always tears it down.
func withGuest<R>(extraArguments: [String] = [], network: Bool = false,
                  _ body: (GuestUnderTest) throws -> R) throws -> R {
    let guest = try GuestUnderTest(extraArguments: extraArguments, network: network)
    defer { guest.stop() }
    do {
        return try body(guest)
    } catch {
        Issue.record("vm-init log:\n\(guest.log())")
        throw error
    }
}
