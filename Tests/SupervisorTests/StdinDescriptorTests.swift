import Foundation
import Glibc
import LinuxSystem
import TestSupport
import Testing
import VsockProtocol
import VsockTransport

/// `fc-supervisor exec -i` with a pipe as stdin passes the pipe to the supervisor (PROTOCOL.md §11,
/// `stdin_descriptor`), which reads it itself: one hop fewer for every stdin byte. Real supervisor, simulator,
/// real vm-init.
@Suite(.serialized) struct StdinDescriptorTests {
    /// `count` bytes that are not all alike (xorshift), made fast enough for tens of MiB in a debug build.
    private static func bytes(_ count: Int) -> [UInt8] {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        return [UInt8](unsafeUninitializedCapacity: count) { buffer, filled in
            let raw = UnsafeMutableRawBufferPointer(buffer)
            var offset = 0
            while offset < count {
                state ^= state << 13; state ^= state >> 7; state ^= state << 17
                withUnsafeBytes(of: state) { word in
                    let n = min(8, count - offset)
                    raw.baseAddress!.advanced(by: offset).copyMemory(from: word.baseAddress!, byteCount: n)
                }
                offset += 8
            }
            filled = count
        }
    }

    private static func sha256(_ bytes: [UInt8]) throws -> String {
        try runToEnd("/usr/bin/sha256sum", [], environment: [:], input: bytes).stdout
    }

    /// Bytes process `pid` got from read-like system calls so far (`rchar` of /proc/PID/io).
    private static func bytesRead(by pid: Int32) -> Int {
        let io = FileContents.text("/proc/\(pid)/io") ?? ""
        let line = io.split(separator: "\n").first { $0.hasPrefix("rchar:") }
        return line.flatMap { Int($0.dropFirst(6).trimmingCharacters(in: .whitespaces)) } ?? -1
    }

    /// 32 MiB through a pipe arrive byte-exact, and the exec client read (almost) none of them.
    @Test func pipedStdinIsReadByTheSupervisorNotTheClient() throws {
        let h = try SimulatorHarness()
        defer { h.cleanup() }
        let vm = try h.bootIdleVM(id: "pass")
        defer { vm.kill(SIGTERM); vm.wait() }
        let payload = Self.bytes(32 << 20)
        let expected = try Self.sha256(payload)
        // The session stays open after the hash, so the client's counters can be read while it runs.
        let client = try ChildUnderTest(h.supervisor, ["exec", "--state-dir", h.stateRoot, "-i", "pass", "--",
                                                       "sh", "-c", "sha256sum; echo done; exec sleep 600"],
                                        environment: h.environment(), input: payload)
        #expect(client.waitForOutput("done\n", timeout: 120), "\(client.stderr)")
        #expect(client.stdout == expected + "done\n")
        let read = Self.bytesRead(by: client.pid)
        #expect(read >= 0 && read < 1 << 20, "the exec client read \(read) bytes: stdin went through it")
        client.kill(SIGTERM)  // relayed to the session: sleep ends with SIGTERM
        #expect(client.wait(timeout: 30).shellStatus == 143, "\(client.stderr)")
    }

    /// A regular file and /dev/null are not pipes: they are forwarded with `stdin` frames, as before.
    @Test func stdinThatIsNotAPipeIsStillRelayed() throws {
        let h = try SimulatorHarness()
        defer { h.cleanup() }
        let vm = try h.bootIdleVM(id: "relay")
        defer { vm.kill(SIGTERM); vm.wait() }
        let directory = try TemporaryDirectory(prefix: "/var/tmp/fcsup-stdin-")
        defer { directory.remove() }
        let payload = Self.bytes(3 << 20)
        let file = directory.file("input")
        try Files.writeAtomically(file, payload)
        let script = #"exec "$0" exec --state-dir "$1" -i relay -- "$3" < "$2""#
        let fromFile = try runToEnd("/bin/sh", ["-c", script, h.supervisor, h.stateRoot, file, "sha256sum"],
                                    environment: h.environment())
        let expected = try Self.sha256(payload)
        #expect(fromFile.status == 0 && fromFile.stdout == expected, "\(fromFile)")
        let fromNull = try runToEnd("/bin/sh", ["-c", script, h.supervisor, h.stateRoot, "/dev/null", "wc"],
                                    environment: h.environment())
        #expect(fromNull.stdout.split(separator: " ", omittingEmptySubsequences: true).first == "0", "\(fromNull)")
    }

    /// A reader that stops: the supervisor reads no more than the guest's credit (the writer blocks), it holds
    /// the pipe while the session runs, and closes it when the client goes.
    @Test func aStalledReaderHoldsBackThePipeAndADisconnectReleasesIt() throws {
        SystemControl.ignoreSignal(SIGPIPE)
        let h = try SimulatorHarness()
        defer { h.cleanup() }
        let vm = try h.bootIdleVM(id: "stall")
        defer { vm.kill(SIGTERM); vm.wait() }
        let supervisor = try h.supervisorPID(id: "stall")
        let pipe = try LinuxSystem.Pipe()
        defer { pipe.writeEnd.close() }
        let link = try pipeLink(pipe.readEnd)
        let client = try ChildUnderTest(h.supervisor, ["exec", "--state-dir", h.stateRoot, "-i", "stall", "--",
                                                       "sh", "-c", "head -c 1 >/dev/null; echo stalled; exec sleep 600"],
                                        environment: h.environment(), standardInput: pipe.readEnd)
        pipe.readEnd.close()
        try pipe.writeEnd.writeAll([1])
        #expect(client.waitForOutput("stalled\n"), "\(client.stderr)")
        #expect(openDescriptors(of: supervisor).contains(link), "the supervisor does not hold the client's stdin pipe")

        // Write until the pipe stays full: what left it is what the supervisor read.
        try pipe.writeEnd.setNonBlocking()
        let chunk = [UInt8](repeating: 0x5A, count: 64 * 1024)
        var written = 0
        while written < 32 << 20 {
            let result = try chunk.withUnsafeBytes { (raw) throws(SystemError) in try pipe.writeEnd.writeSome(raw) }
            if case .processed(let n) = result { written += n; continue }
            guard try pipe.writeEnd.waitWritable(until: Clock.deadline(after: .seconds(1))) else { break }
        }
        // The guest's 4 MiB window, its process's 1 MiB pipe, this pipe (the supervisor grew it to 1 MiB), and
        // head's read: a few MiB at most.
        #expect(written > 1 << 20 && written < 7 << 20, "\(written) bytes left the pipe with the reader stalled")

        client.kill(SIGKILL)
        client.wait()
        let released = Deadline(seconds: 10).poll(every: 0.02) { !openDescriptors(of: supervisor).contains(link) }
        #expect(released, "the supervisor still holds the pipe after its client went")
        #expect(throws: SystemError.self) { try pipe.writeEnd.writeAll([0]) }
    }
}

/// Peers that pass descriptors they should not, or ask for one they did not pass (PROTOCOL.md §11).
@Suite(.serialized) struct HostileDescriptorTests {
    /// A connection to VM `id`'s control socket that has said hello, and read the supervisor's, which announces
    /// `stdin_descriptor`.
    private static func connect(_ h: SimulatorHarness, id: String) throws -> FrameChannel {
        let channel = try FrameChannel.connect(unixPath: "\(h.stateRoot)/\(id)/control.sock")
        try channel.send(.hello(Hello(role: .client, agent: "hostile")))
        let hello = try channel.receive(timeout: .seconds(10)).message
        guard case .hello(let h) = hello, h.capabilities.contains(ExecRequest.stdinDescriptorCapability) else {
            throw HarnessError("expected the supervisor's hello with stdin_descriptor, got \(hello)")
        }
        return channel
    }

    /// Everything sent so far has been read: a ping's pong came back. Returns the frames before it.
    @discardableResult
    private static func sync(_ channel: FrameChannel, id: UInt64 = 77) throws -> [Frame] {
        try channel.send(.ping(Ping(id: id)))
        return try channel.receive(until: { $0.message == .pong(Ping(id: id)) }, deadline: Clock.deadline(after: .seconds(10)))
    }

    private static func hasReader(_ writeEnd: FileDescriptor) -> Bool { (try? writeEnd.writeAll([0])) != nil }

    @Test func descriptorsNoExecClaimsAreCappedAndClosedWithTheConnection() throws {
        SystemControl.ignoreSignal(SIGPIPE)
        let h = try SimulatorHarness()
        defer { h.cleanup() }
        let vm = try h.bootIdleVM(id: "fds")
        defer { vm.kill(SIGTERM); vm.wait() }
        let supervisor = try h.supervisorPID(id: "fds")
        let baseline = openDescriptors(of: supervisor).count
        let channel = try Self.connect(h, id: "fds")
        var writers: [FileDescriptor] = []
        defer { for fd in writers { fd.close() } }
        // Five pings with one pipe each, then one with twelve (more than one message may carry).
        for count in [1, 1, 1, 1, 1, 12] {
            var readEnds: [FileDescriptor] = []
            for _ in 0..<count {
                let pipe = try LinuxSystem.Pipe()
                try pipe.writeEnd.setNonBlocking()
                readEnds.append(pipe.readEnd)
                writers.append(pipe.writeEnd)
            }
            _ = try sendWithDescriptors(channel.fd, Frame(.ping(Ping(id: UInt64(writers.count)))).encoded(), readEnds)
            for fd in readEnds { fd.close() }
        }
        try Self.sync(channel)
        let open = writers.map(Self.hasReader)
        #expect(open == [true, true, true] + [Bool](repeating: false, count: 14), "pipes the supervisor holds: \(open)")
        #expect(openDescriptors(of: supervisor).count <= baseline + 4)  // the connection and three descriptors
        channel.close()
        #expect(Deadline(seconds: 10).poll(every: 0.02) { openDescriptors(of: supervisor).count <= baseline },
                "\(openDescriptors(of: supervisor))")
        #expect(writers.allSatisfy { !Self.hasReader($0) })
    }

    @Test func aFlaggedExecWithoutAPipeIsRefusedInOneLine() throws {
        let h = try SimulatorHarness()
        defer { h.cleanup() }
        let vm = try h.bootIdleVM(id: "flag")
        defer { vm.kill(SIGTERM); vm.wait() }
        let supervisor = try h.supervisorPID(id: "flag")
        let baseline = openDescriptors(of: supervisor).count
        let channel = try Self.connect(h, id: "flag")
        func refusal(_ session: SessionID) throws -> ErrorMessage? {
            let frames = try Self.sync(channel, id: UInt64(session) + 100)
            #expect(frames.count == 2, "\(frames.map(\.message))")  // the one answer, then the pong
            guard case .error(let e)? = frames.first?.message else { return nil }
            return e
        }
        // No descriptor at all.
        try channel.send(.exec(ExecRequest(session: 1, argv: ["cat"], stdin: true, stdinDescriptor: true)))
        let none = try #require(try refusal(1))
        #expect(none.code == .invalidMessage && none.session == 1 && !none.message.contains("\n"), "\(none)")

        // A socket, and a regular file: not pipes. Each is closed by the supervisor (the socket's other end
        // then reads end of stream).
        let (ours, theirs) = try UnixSocket.socketPair()
        defer { theirs.close() }
        let exec2 = Frame(.exec(ExecRequest(session: 2, argv: ["cat"], stdinDescriptor: true))).encoded()
        _ = try sendWithDescriptors(channel.fd, exec2, [ours])
        ours.close()
        let socket = try #require(try refusal(2))
        #expect(socket.code == .invalidMessage && socket.session == 2 && socket.message.contains("not a pipe"), "\(socket)")
        #expect(try theirs.waitReadable(until: Clock.deadline(after: .seconds(5))))
        var byte: UInt8 = 0
        let end = try withUnsafeMutableBytes(of: &byte) { (raw) throws(SystemError) in try theirs.readSome(into: raw) }
        #expect(end == .processed(0))

        let file = try FileDescriptor.open("/etc/hostname", flags: O_RDONLY)
        let exec3 = Frame(.exec(ExecRequest(session: 3, argv: ["cat"], stdinDescriptor: true))).encoded()
        _ = try sendWithDescriptors(channel.fd, exec3, [file])
        file.close()
        let regular = try #require(try refusal(3))
        #expect(regular.code == .invalidMessage && regular.session == 3, "\(regular)")
        // Nothing was started or kept: only the connection is open beyond the baseline.
        #expect(openDescriptors(of: supervisor).count <= baseline + 1, "\(openDescriptors(of: supervisor))")
        channel.close()
    }

    /// Output pipes (§11.3): a pipe's read end is refused for stdout; an exec that names three streams but
    /// passes two is refused and the two are closed, so none is left for the next exec to claim.
    @Test func outputDescriptorsMustBeWriteEndsAndComplete() throws {
        SystemControl.ignoreSignal(SIGPIPE)
        let h = try SimulatorHarness()
        defer { h.cleanup() }
        let vm = try h.bootIdleVM(id: "outfds")
        defer { vm.kill(SIGTERM); vm.wait() }
        let supervisor = try h.supervisorPID(id: "outfds")
        let baseline = openDescriptors(of: supervisor).count
        let channel = try Self.connect(h, id: "outfds")
        func answers(_ id: UInt64) throws -> [Message] { try Self.sync(channel, id: id).map(\.message).dropLast() }

        let wrongEnd = try LinuxSystem.Pipe()
        defer { wrongEnd.writeEnd.close() }
        let exec1 = Frame(.exec(ExecRequest(session: 1, argv: ["true"], stdoutDescriptor: true))).encoded()
        _ = try sendWithDescriptors(channel.fd, exec1, [wrongEnd.readEnd])
        wrongEnd.readEnd.close()
        let first = try answers(101)
        guard case .error(let e1)? = first.first, first.count == 1 else { throw HarnessError("expected one error, got \(first)") }
        #expect(e1.code == .invalidMessage && e1.session == 1 && e1.message.contains("write end"), "\(e1)")
        #expect(!Self.hasReader(wrongEnd.writeEnd), "the refused read end is still open in the supervisor")

        let stdin = try LinuxSystem.Pipe(), stdout = try LinuxSystem.Pipe()
        defer { stdin.writeEnd.close(); stdout.readEnd.close() }
        try stdin.writeEnd.setNonBlocking()
        let exec2 = Frame(.exec(ExecRequest(session: 2, argv: ["cat"], stdin: true, stdinDescriptor: true,
                                            stdoutDescriptor: true, stderrDescriptor: true))).encoded()
        _ = try sendWithDescriptors(channel.fd, exec2, [stdin.readEnd, stdout.writeEnd])
        stdin.readEnd.close()
        stdout.writeEnd.close()
        let second = try answers(102)
        guard case .error(let e2)? = second.first, second.count == 1 else { throw HarnessError("expected one error, got \(second)") }
        #expect(e2.code == .invalidMessage && e2.session == 2 && e2.message.contains("stderr_descriptor"), "\(e2)")
        #expect(!Self.hasReader(stdin.writeEnd), "the refused exec's stdin pipe is still open in the supervisor")
        #expect(try stdout.readEnd.readToEnd() == [], "the refused exec's stdout pipe is still open in the supervisor")

        // The next exec claims nothing left over: without a descriptor of its own it is refused as well.
        try channel.send(.exec(ExecRequest(session: 3, argv: ["true"], stdoutDescriptor: true)))
        let third = try answers(103)
        guard case .error(let e3)? = third.first else { throw HarnessError("expected an error, got \(third)") }
        #expect(e3.session == 3 && e3.message.contains("no descriptor"), "\(e3)")
        #expect(openDescriptors(of: supervisor).count <= baseline + 1, "\(openDescriptors(of: supervisor))")
        channel.close()
    }
}
