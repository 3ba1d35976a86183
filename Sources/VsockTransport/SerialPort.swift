import Glibc
import LinuxSystem

/// A character device (virtio-serial port, or any tty) that carries one persistent connection: it is opened
/// rather than accepted, and reopened after the host side hangs up.
///
/// The spec is a device path, or `name=X` for the virtio port whose `/sys/class/virtio-ports/*/name` is X
/// (the port's /dev node appears only once the driver has probed it, so a missing port is retried).
public final class SerialPort {
    public let spec: String
    /// Held strongly: the port lives as long as its owner (vm-init's agent), and its retry timers hold it until
    /// they fire.
    private let loop: EventLoop
    private var retryTimer: EventLoop.TimerID?
    /// Called with each opened descriptor (non-blocking, raw mode if it is a terminal).
    public var onOpen: (FileDescriptor, _ path: String) -> Void = { fd, _ in fd.close() }
    /// Called when a lookup or open fails (it is retried), for logging.
    public var onError: (String) -> Void = { _ in }

    public static let retryInterval: Duration = .seconds(1)
    /// While the port is there but no host is connected to it (after a snapshot restore the new VMM's side opens
    /// a moment later), how often it is checked: every ``hostPollFast`` for ``hostPollFastCount`` tries, then
    /// every ``hostPollSlow``, so a restore is served within milliseconds and an idle VM without a host wakes
    /// rarely.
    public static let hostPollFast: Duration = .milliseconds(5)
    public static let hostPollFastCount = 400
    public static let hostPollSlow: Duration = .milliseconds(250)
    private var hostPolls = 0

    public init(spec: String, loop: EventLoop) {
        self.spec = spec
        self.loop = loop
    }

    /// Opens the port now, or retries every ``retryInterval`` until it can.
    public func open() {
        retryTimer = nil
        let path: String
        if spec.hasPrefix("name=") {
            let name = String(spec.dropFirst(5))
            guard let found = Self.findVirtioPort(named: name) else {
                return retry("no virtio port named \(name)")
            }
            path = found
        } else {
            path = spec
        }
        do {
            let fd = try FileDescriptor.open(path, flags: O_RDWR | O_NOCTTY | O_NONBLOCK)
            // Raw mode: the line carries binary frames. Best effort: a port that refuses it still carries bytes
            // (the host then sees framing errors, which say more than a port that never opens).
            // No host on the other side yet (virtio-serial reports a hang-up until one connects): a connection
            // now would end at once, so wait for the host quietly instead of opening and closing in a loop.
            if (try? fd.isHungUp()) == true {
                fd.close()
                if hostPolls == 0 { onError("no host connected to \(path) yet; waiting for one") }
                hostPolls += 1
                retryTimer = loop.addTimer(after: hostPolls < Self.hostPollFastCount ? Self.hostPollFast : Self.hostPollSlow) {
                    [self] in open()
                }
                return
            }
            hostPolls = 0
            if Terminal.isTerminal(fd) {
                do { try Terminal.makeRaw(fd) } catch { onError("raw mode on \(path): \(error)") }
            }
            onOpen(fd, path)
        } catch {
            retry("open \(path): \(error)")
        }
    }

    /// Reopens after the connection on the port closed (the host hung up), after a short pause so a port that
    /// keeps failing cannot spin the loop.
    public func reopen(after delay: Duration = .milliseconds(100)) {
        guard retryTimer == nil else { return }
        retryTimer = loop.addTimer(after: delay) { [self] in open() }
    }

    private func retry(_ reason: String) {
        onError("\(reason); retrying in \(Self.retryInterval)")
        reopen(after: Self.retryInterval)
    }

    /// /sys/class/virtio-ports/*/name == name → /dev/<port>.
    public static func findVirtioPort(named name: String, sysfs: String = "/sys/class/virtio-ports") -> String? {
        for port in Directory.names(sysfs) where !port.hasPrefix(".") {
            let text = Files.readValue("\(sysfs)/\(port)/name") ?? ""
            if text.split(whereSeparator: { $0 == "\n" || $0 == " " }).first.map(String.init) == name { return "/dev/\(port)" }
        }
        return nil
    }
}
