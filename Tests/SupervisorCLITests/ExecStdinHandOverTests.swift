import Glibc
import LinuxSystem
import TestSupport
import Testing
import VsockProtocol

/// What `fc-supervisor exec -i` sends when its stdin is a pipe, against a stand-in supervisor: the `exec` carries
/// `stdin_descriptor` and the pipe itself (SCM_RIGHTS); the client then forwards stdin only if the supervisor's
/// `hello` does not list `stdin_descriptor` (an older supervisor ignores the field and the descriptor).
@Suite(.serialized) struct ExecStdinHandOverTests {
    /// A control socket served by the test: one client, read with `recvmsg` so passed descriptors are seen.
    final class StandIn {
        let directory: TemporaryDirectory
        let listener: FileDescriptor
        var connection: FileDescriptor?
        var decoder = FrameDecoder(limits: .default)
        var descriptors: [FileDescriptor] = []

        init() throws {
            directory = try TemporaryDirectory(prefix: "/var/tmp/fcexec-")
            try Files.makeDirectories(directory.file("vm"), mode: 0o700)
            listener = try UnixSocket.listen(path: directory.file("vm/control.sock"))
        }

        deinit {
            connection?.close()
            listener.close()
            for fd in descriptors { fd.close() }
            directory.remove()
        }

        func accept() throws {
            guard try listener.waitReadable(until: Clock.deadline(after: .seconds(20))),
                  let fd = try UnixSocket.accept(listener) else { throw HarnessError("the exec client did not connect") }
            connection = fd
        }

        func send(_ message: Message) throws {
            guard let connection else { throw HarnessError("not connected") }
            try connection.writeAll(Frame(message).encoded())
        }

        func receive() throws -> Frame {
            guard let connection else { throw HarnessError("not connected") }
            var buffer = [UInt8](repeating: 0, count: 256 * 1024)
            while true {
                if let item = decoder.next() {
                    guard case .frame(let frame) = item else { throw HarnessError("bad frame: \(item)") }
                    return frame
                }
                guard try connection.waitReadable(until: Clock.deadline(after: .seconds(20))) else {
                    throw HarnessError("no frame from the exec client")
                }
                let got = try buffer.withUnsafeMutableBytes { (raw) throws(SystemError) in
                    try UnixSocket.receive(connection, into: [raw], descriptors: &descriptors)
                }
                guard let n = got.count else { continue }
                if n == 0 { throw HarnessError("the exec client closed the connection") }
                decoder.append(buffer[..<n])
            }
        }
    }

    private static func hello(capabilities: [String]) -> Message {
        .hello(Hello(role: .supervisor, agent: "stand-in", capabilities: capabilities))
    }

    /// The client's first frames: its hello, then the exec, which must come with the pipe.
    private static func execWithPipe(_ standIn: StandIn) throws -> ExecRequest {
        guard case .hello = try standIn.receive().message, case .exec(let exec) = try standIn.receive().message else {
            throw HarnessError("expected hello then exec")
        }
        #expect(exec.stdin == true && exec.stdinDescriptor == true, "\(exec)")
        #expect(standIn.descriptors.count == 1, "the exec came with \(standIn.descriptors.count) descriptors")
        #expect(try standIn.descriptors.first?.fileType() == .fifo)
        return exec
    }

    /// `fc-supervisor exec -i vm -- cat` with `input` in its stdin pipe, against a stand-in that announced
    /// `capabilities`; returns once the client's `exec` (with its pipe) came.
    static func startClient(_ input: [UInt8], capabilities: [String]) throws -> (StandIn, ChildUnderTest, ExecRequest) {
        let standIn = try StandIn()
        let client = try ChildUnderTest(BuiltProduct.path("fc-supervisor"),
                                        ["exec", "--state-dir", standIn.directory.path, "-i", "vm", "--", "cat"],
                                        input: input)
        try standIn.accept()
        try standIn.send(Self.hello(capabilities: capabilities))
        return (standIn, client, try Self.execWithPipe(standIn))
    }

    @Test func aSupervisorWithoutTheCapabilityGetsStdinAsFrames() throws {
        let input = Array("through the frames\n".utf8)
        let (standIn, client, exec) = try Self.startClient(input, capabilities: ["pty"])
        // An older supervisor reads without a control buffer: the kernel drops the descriptor.
        for fd in standIn.descriptors { fd.close() }
        standIn.descriptors = []
        try standIn.send(.started(Started(session: exec.session, pid: 7)))
        var received: [UInt8] = []
        while true {
            let frame = try standIn.receive()
            if case .stdin = frame.message { received += frame.payload; continue }
            if case .stdinClose = frame.message { break }
        }
        #expect(received == input)
        try standIn.send(.exit(ExitReport(session: exec.session, status: ExitStatus(code: 3))))
        #expect(client.wait(timeout: 20).shellStatus == 3, "\(client.stderr)")
    }

    @Test func aSupervisorWithTheCapabilityReadsThePipeItself() throws {
        let input = Array("through the descriptor\n".utf8)
        let (standIn, client, exec) = try Self.startClient(input, capabilities: ["pty", ExecRequest.stdinDescriptorCapability])
        try standIn.send(.started(Started(session: exec.session, pid: 7)))
        let pipe = try #require(standIn.descriptors.first)
        #expect(try pipe.readToEnd() == input)
        // The client sent no stdin of its own: the next frame is our ping's pong.
        try standIn.send(.ping(Ping(id: 5)))
        let next = try standIn.receive().message
        #expect(next == .pong(Ping(id: 5)), "\(next)")
        try standIn.send(.exit(ExitReport(session: exec.session, status: ExitStatus(code: 0))))
        #expect(client.wait(timeout: 20).shellStatus == 0, "\(client.stderr)")
    }

    /// With its stdout a pipe, the client passes that too (`stdout_descriptor`, after stdin's pipe); a
    /// supervisor without `output_descriptors` sends `stdout` frames instead, which the client writes to the
    /// pipe itself.
    @Test func stdoutIsPassedAndAnOlderSupervisorsFramesStillArrive() throws {
        let standIn = try StandIn()
        let out = try LinuxSystem.Pipe()
        defer { out.readEnd.close() }
        let client = try ChildUnderTest(BuiltProduct.path("fc-supervisor"),
                                        ["exec", "--state-dir", standIn.directory.path, "vm", "--", "echo"],
                                        standardOutput: out.writeEnd)
        out.writeEnd.close()
        try standIn.accept()
        try standIn.send(Self.hello(capabilities: ["pty", ExecRequest.stdinDescriptorCapability]))
        guard case .hello = try standIn.receive().message, case .exec(let exec) = try standIn.receive().message else {
            throw HarnessError("expected hello then exec")
        }
        #expect(exec.stdoutDescriptor == true && exec.stdinDescriptor == nil && exec.stderrDescriptor == nil, "\(exec)")
        let writable = try standIn.descriptors.first?.isWritable()
        #expect(standIn.descriptors.count == 1 && writable == true)
        for fd in standIn.descriptors { fd.close() }
        standIn.descriptors = []
        try standIn.send(.started(Started(session: exec.session, pid: 7)))
        var frame = [UInt8](); Frame.encode(.stdout(SessionRef(session: exec.session)), payload: Array("framed\n".utf8), into: &frame)
        try standIn.connection?.writeAll(frame)
        try standIn.send(.exit(ExitReport(session: exec.session, status: ExitStatus(code: 0))))
        #expect(client.wait(timeout: 20).shellStatus == 0, "\(client.stderr)")
        #expect(try out.readEnd.readToEnd() == Array("framed\n".utf8))
    }

    @Test func aRefusedExecEndsTheClientWithOneLine() throws {
        let (standIn, client, exec) = try Self.startClient(Array("x".utf8), capabilities: ["pty", ExecRequest.stdinDescriptorCapability])
        try standIn.send(.error(ErrorMessage(code: .invalidMessage,
                                             message: "the stdin descriptor passed with exec is not a pipe",
                                             session: exec.session)))
        #expect(client.wait(timeout: 20).shellStatus == 125, "\(client.stderr)")
        let lines = client.stderr.split(separator: "\n")
        #expect(lines.count == 1 && lines.first?.contains("not a pipe") == true, "\(client.stderr)")
    }
}
