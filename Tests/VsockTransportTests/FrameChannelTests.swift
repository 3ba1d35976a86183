import LinuxSystem
import Testing
import VsockProtocol
import VsockTransport

/// The blocking channel (clients, tests, the fuzz harness) and the serial port's sysfs lookup.
@Suite struct FrameChannelTests {
    @Test func receiveTimesOutOnTheMonotonicClock() throws {
        let (ours, theirs) = try UnixSocket.socketPair()
        let channel = FrameChannel(fd: ours)
        defer { channel.close(); theirs.close() }
        let start = Clock.now()
        #expect(throws: TransportError.self) { try channel.receive(timeout: .milliseconds(150)) }
        #expect(start.elapsed >= .milliseconds(140))
        do {
            _ = try channel.receive(timeout: .milliseconds(150))
        } catch {
            #expect(error.code == .timeout)
        }
        // A deadline already past: no wait at all.
        let past = Clock.now()
        #expect(throws: TransportError.self) { try channel.receive(deadline: Clock.Instant(nanoseconds: past.nanoseconds / 2)) }
        #expect(past.elapsed < .milliseconds(100))
    }

    @Test func receivesFramesSplitAcrossWritesThenReportsTheClose() throws {
        let (ours, theirs) = try UnixSocket.socketPair()
        let channel = FrameChannel(fd: ours)
        defer { channel.close() }
        var bytes = Frame(.ping(Ping(id: 7))).encoded()
        bytes += Frame(.stdout(SessionRef(session: 3)), payload: [1, 2, 3]).encoded()
        try theirs.writeAll(Array(bytes[..<5]))
        try theirs.writeAll(Array(bytes[5...]))
        theirs.close()
        #expect(try channel.receive(timeout: .seconds(5)).message == .ping(Ping(id: 7)))
        let second = try channel.receive(timeout: .seconds(5))
        #expect(second.message == .stdout(SessionRef(session: 3)))
        #expect(second.payload == [1, 2, 3])
        do {
            _ = try channel.receive(timeout: .seconds(5))
            Issue.record("no error at end of stream")
        } catch {
            #expect(error.code == .closed)
        }
    }

    @Test func virtioPortIsFoundByItsSysfsName() throws {
        let sysfs = try Files.makeTemporaryDirectory(prefix: "/tmp/virtio-ports-")
        defer { try? Files.removeTree(sysfs) }
        for (port, name) in [("vport0p1", "org.qemu.guest_agent.0\n"), ("vport0p2", "org.fc.agent\n")] {
            try Files.makeDirectory("\(sysfs)/\(port)")
            try Files.writeAtomically("\(sysfs)/\(port)/name", name)
        }
        #expect(SerialPort.findVirtioPort(named: "org.fc.agent", sysfs: sysfs) == "/dev/vport0p2")
        #expect(SerialPort.findVirtioPort(named: "org.fc", sysfs: sysfs) == nil)
        #expect(SerialPort.findVirtioPort(named: "org.fc.agent", sysfs: sysfs + "/missing") == nil)
    }
}
