import Glibc
import LinuxSystem
import TestSupport
import Testing
import VsockProtocol

/// Runs the built vm-init as a real PID 1 in fresh PID, mount and UTS namespaces, listening on a Unix socket
/// under /var/tmp (vm-init mounts tmpfs over /tmp and /run inside its namespace).
final class GuestUnderTest {
    let directory: TemporaryDirectory
    let socketPath: String
    /// `unshare`, whose `--kill-child` takes vm-init and every process in its namespace along when it dies.
    let namespace: ChildUnderTest

    /// `network`: also a fresh network namespace (for tests that configure interfaces). `cgroup`: a cgroup v2
    /// directory (host path) that vm-init starts in, joined by a shell inside the namespace that then execs it.
    init(extraArguments: [String] = [], network: Bool = false, cgroup: String? = nil) throws {
        directory = try TemporaryDirectory(prefix: "/var/tmp/vminit-")
        socketPath = directory.file("agent.sock")
        let binary = try BuiltProduct.path("vm-init")
        let join = cgroup.map { ["/bin/sh", "-c", "echo 0 > \"$0/cgroup.procs\" && exec \"$@\"", $0] } ?? []
        namespace = try ChildUnderTest(
            "/usr/bin/unshare",
            ["--pid", "--mount", "--uts"] + (network ? ["--net"] : []) + ["--fork", "--kill-child"] + join + [binary,
             "--listen", "unix:" + socketPath, "--log", "debug"] + extraArguments,
            environment: ["PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
            mergeStandardError: true)
    }

    /// Connects (retrying while vm-init starts) and completes the hello exchange.
    func connect(window: UInt32 = ProtocolConstants.defaultWindow, timeout: Double = 20) throws -> FrameClient {
        let deadline = Deadline(seconds: timeout)
        while true {
            if let fd = try? UnixSocket.connect(path: socketPath) {
                let client = FrameClient(fd: fd, window: window)
                try client.handshake()
                return client
            }
            if deadline.hasPassed { throw HarnessError("vm-init did not listen within \(timeout) s; log:\n\(log())") }
            if let exited = namespace.wait(until: Deadline(seconds: 0)) {
                throw HarnessError("unshare exited early (\(exited)); log:\n\(log())")
            }
            Deadline.sleep(0.01)
        }
    }

    /// vm-init's log so far (its last 8,000 characters; vm-init logs to stderr).
    func log() -> String { String(namespace.stdout.suffix(8000)) }

    /// Waits for the namespace to end by itself (after a shutdown); returns its termination or nil on timeout.
    func waitForExit(timeout: Double) -> ProcessTermination? {
        namespace.wait(until: Deadline(seconds: timeout))
    }

    /// Kills the namespace (unshare --kill-child takes vm-init and every process in it along).
    func stop() {
        namespace.wait(timeout: 0)
        directory.remove()
    }

    deinit { stop() }
}

/// Runs `body` against a fresh vm-init namespace and always tears it down.
func withGuest<R>(extraArguments: [String] = [], network: Bool = false, cgroup: String? = nil,
                  _ body: (GuestUnderTest) throws -> R) throws -> R {
    let guest = try GuestUnderTest(extraArguments: extraArguments, network: network, cgroup: cgroup)
    defer { guest.stop() }
    do {
        return try body(guest)
    } catch {
        Issue.record("vm-init log:\n\(guest.log())")
        throw error
    }
}
