import Glibc
import LinuxSystem
import TestSupport
import Testing
import VsockProtocol

extension NamespaceTests {
    @Suite struct Stdin {
        static func bytes(_ count: Int) -> [UInt8] {
            var state: UInt32 = 12345
            return (0..<count).map { _ in
                state = state &* 1_103_515_245 &+ 12345
                return UInt8(truncatingIfNeeded: state >> 16)
            }
        }

        @Test func catSixteenMiBWithEOFAfterStart() throws {
            try withGuest { guest in
                let client = try guest.connect()
                let input = Self.bytes(16 << 20)
                client.exec(ExecRequest(session: 1, argv: ["cat"], stdin: true))
                try client.pump(until: { client.results[1]?.started != nil })
                try client.sendStdin(1, input)
                client.send(.stdinClose(SessionRef(session: 1)))
                try client.pump(until: { client.results[1]?.done == true }, timeout: 60)
                #expect(client.results[1]?.exit?.status.code == 0)
                #expect(client.results[1]?.stdout.count == input.count)
                #expect(client.results[1].map { fnv1a($0.stdout) } == fnv1a(input))
            }
        }

        @Test func eofSentBeforeStartAndEmptyStdin() throws {
            try withGuest { guest in
                let client = try guest.connect()
                // exec, data and EOF back to back, before `started` could have been seen.
                client.exec(ExecRequest(session: 1, argv: ["cat"], stdin: true))
                client.send(.stdin(SessionRef(session: 1)), payload: Array("x".utf8))
                client.send(.stdinClose(SessionRef(session: 1)))
                try client.pump(until: { client.results[1]?.done == true })
                #expect(client.results[1]?.stdoutText == "x")
                #expect(client.results[1]?.exit?.status.code == 0)

                // A whole window of data and EOF pipelined without waiting for started.
                let input = Self.bytes(Int(client.guestHello?.window ?? 0))
                client.exec(ExecRequest(session: 2, argv: ["cat"], stdin: true))
                try client.sendStdin(2, input)
                client.send(.stdinClose(SessionRef(session: 2)))
                try client.pump(until: { client.results[2]?.done == true }, timeout: 60)
                #expect(client.results[2]?.stdout.count == input.count)
                #expect(client.results[2].map { fnv1a($0.stdout) } == fnv1a(input))

                // Empty stdin: EOF only.
                client.exec(ExecRequest(session: 3, argv: ["wc", "-c"], stdin: true))
                client.send(.stdinClose(SessionRef(session: 3)))
                try client.pump(until: { client.results[3]?.done == true })
                #expect(client.results[3]?.stdoutText.split(separator: "\n").first == "0")
                #expect(client.results[3]?.exit?.status.code == 0)

                // No stdin requested: the process reads /dev/null.
                let null = try client.run(ExecRequest(session: 4, argv: ["wc", "-c"]))
                #expect(null.stdoutText.split(separator: "\n").first == "0")
            }
        }
    }

    @Suite struct Terminal {
        @Test func initialSizeOutputAtExitAndResize() throws {
            try withGuest { guest in
                let client = try guest.connect()
                let size = try client.run(ExecRequest(session: 1, argv: ["stty", "size"], tty: TerminalSize(rows: 33, cols: 77)))
                #expect(size.stdoutText == "33 77\r\n")
                #expect(size.exit?.status.code == 0)

                // Output written right before exit is not lost.
                let tail = try client.run(ExecRequest(session: 2, argv: ["sh", "-c", "head -c 100000 /dev/zero | tr '\\0' a; printf END"],
                                                      tty: TerminalSize(rows: 24, cols: 80)))
                #expect(tail.stdoutText.hasSuffix("END"))
                #expect(tail.stdout.filter { $0 == UInt8(ascii: "a") }.count == 100000)

                // Resize reaches the process (SIGWINCH, new size).
                client.exec(ExecRequest(session: 3, argv: ["sh", "-c",
                    "trap 'stty size; exit 0' WINCH; echo ready; while :; do sleep 0.05; done"],
                    tty: TerminalSize(rows: 24, cols: 80)))
                try client.pump(until: { client.results[3]?.stdoutText.contains("ready") == true })
                client.send(.resize(ResizeRequest(session: 3, rows: 40, cols: 100)))
                try client.pump(until: { client.results[3]?.done == true })
                #expect(client.results[3]?.stdoutText.contains("40 100") == true)
                #expect(client.results[3]?.exit?.status.code == 0)

                // Keystrokes reach the program through the terminal.
                client.exec(ExecRequest(session: 4, argv: ["sh", "-c", "read line; echo got:$line"], tty: TerminalSize(rows: 24, cols: 80)))
                client.send(.stdin(SessionRef(session: 4)), payload: Array("hello\n".utf8))
                try client.pump(until: { client.results[4]?.done == true })
                #expect(client.results[4]?.stdoutText.contains("got:hello") == true)
            }
        }
    }
}
