import Glibc
import LinuxSystem
import TestSupport
import Testing
import VsockProtocol

extension NamespaceTests {
    @Suite struct Output {
        /// The pattern `yes 0123456789abcdef | head -c N` prints.
        static func pattern(_ count: Int) -> [UInt8] {
            let line = Array("0123456789abcdef\n".utf8)
            var out = [UInt8]()
            out.reserveCapacity(count)
            while out.count < count { out += line }
            return Array(out.prefix(count))
        }

        /// 64 MiB written, then the writer exits at once: every byte arrives, in order, 100 times over
        /// (`VMINIT_TAIL_RUNS` overrides the count). The hash is FNV-1a 64: FoundationEssentials has no SHA-256,
        /// and any lost, duplicated or reordered chunk changes it.
        @Test func largeOutputThenImmediateExitIsByteExact() throws {
            let size = 64 << 20
            let expected = Self.pattern(size)
            let expectedHash = fnv1a(expected)
            try withGuest { guest in
                let client = try guest.connect()
                let runs = UInt32(getenv("VMINIT_TAIL_RUNS").flatMap { UInt32(String(cString: $0)) } ?? 100)
                for run: UInt32 in 0..<runs {
                    let r = try client.run(ExecRequest(session: 1 + run, argv: ["sh", "-c",
                        "yes 0123456789abcdef | head -c \(size)"]), timeout: 120)
                    #expect(r.exit?.status.code == 0)
                    #expect(r.exit?.status.outputTruncated == false)
                    #expect(r.stdout.count == size, "run \(run)")
                    #expect(fnv1a(r.stdout) == expectedHash, "run \(run)")
                    client.results[1 + run] = nil
                }
            }
        }

        /// A busy output pipe goes to the host by `splice(2)`: vm-init's own reads (`rchar` of its main thread,
        /// /proc/1/task/1/io: the process's file would add its reaped children's; splice is not counted) stay far
        /// below what it sends. With `vminit.splice=0` it reads every byte.
        @Test(arguments: [true, false])
        func busyOutputIsSplicedNotRead(splice: Bool) throws {
            try withGuest(extraArguments: splice ? [] : ["--cmdline=vminit.splice=0"]) { guest in
                let client = try guest.connect()
                func bytesRead(_ session: SessionID) throws -> Int {
                    let io = try client.run(ExecRequest(session: session, argv: ["cat", "/proc/1/task/1/io"])).stdoutText
                    let line = io.split(separator: "\n").first { $0.hasPrefix("rchar:") } ?? ""
                    return Int(line.dropFirst("rchar:".count).trimmingCharacters(in: .whitespaces)) ?? -1
                }
                let size = 32 << 20
                let before = try bytesRead(1)
                let r = try client.run(ExecRequest(session: 2, argv: ["head", "-c", "\(size)", "/dev/zero"]), timeout: 60)
                let read = try bytesRead(3) - before
                #expect(r.stdout == [UInt8](repeating: 0, count: size))
                #expect(r.exit?.status.code == 0 && r.exit?.status.outputTruncated == false)
                #expect(before >= 0 && read >= 0)
                if splice {
                    #expect(read < size / 8, "vm-init read \(read) of \(size) bytes")
                } else {
                    #expect(read >= size, "vm-init read \(read) of \(size) bytes")
                }
            }
        }

        @Test func backgroundChildHoldingThePipeDoesNotHang() throws {
            try withGuest(extraArguments: ["--drain-ms", "500"]) { guest in
                let client = try guest.connect()
                let t0 = Deadline.now()
                let r = try client.run(ExecRequest(session: 1, argv: ["sh", "-c", "echo hi; sleep 1000 &"]))
                let elapsed = Deadline.now() - t0
                #expect(r.stdoutText == "hi\n")
                #expect(r.exit?.status.code == 0)
                // Something still held stdout at the drain deadline: whatever it writes later is lost, so the
                // exit cannot promise completeness (PROTOCOL.md §4.12).
                #expect(r.exit?.status.outputTruncated == true)
                #expect(elapsed < 10, "exit took \(elapsed) s with a 500 ms drain deadline")

                // A background writer that keeps writing past the deadline: its output is cut, and said so.
                let cut = try client.run(ExecRequest(session: 2, argv: ["sh", "-c", "echo start; yes > /dev/stdout &"]))
                #expect(cut.exit?.status.code == 0)
                #expect(cut.exit?.status.outputTruncated == true)
                #expect(cut.stdoutText.hasPrefix("start\n"))
            }
        }

        /// Session 1 floods stdout and its reader never grants more credit; session 2 still runs at full speed,
        /// and vm-init's memory stays bounded.
        @Test func stalledReaderDoesNotSlowAnotherSession() throws {
            try withGuest { guest in
                let client = try guest.connect()
                client.stalled.insert(1)
                client.exec(ExecRequest(session: 1, argv: ["yes"]))
                try client.pump(until: { (client.results[1]?.stdout.count ?? 0) >= Int(client.window) })
                let size = 32 << 20
                let t0 = Deadline.now()
                let r = try client.run(ExecRequest(session: 2, argv: ["head", "-c", "\(size)", "/dev/zero"]), timeout: 60)
                #expect(r.stdout.count == size)
                #expect(r.exit?.status.code == 0)
                #expect(Deadline.now() - t0 < 30)
                // The stalled session got exactly its window, no more.
                #expect(client.results[1]?.stdout.count == Int(client.window))
                let rss = try client.run(ExecRequest(session: 3, argv: ["sh", "-c", "grep VmRSS /proc/1/status | tr -s ' ' | cut -d' ' -f2"]))
                let kib = Int(rss.stdoutText.split(separator: "\n").first ?? "") ?? Int.max
                // ASan's shadow memory and quarantine add about 50 MiB (112 MiB measured); `make check-asan` sets FC_SANITIZER.
                let boundKiB = (getenv("FC_SANITIZER") == nil ? 64 : 256) * 1024
                #expect(kib < boundKiB, "vm-init RSS \(kib) KiB")
                client.send(.signal(SignalRequest(session: 1, signal: SIGKILL)))
                client.releaseStall(1)
                try client.pump(until: { client.results[1]?.exit != nil })
                #expect(client.results[1]?.exit?.status.signal == SIGKILL)
            }
        }
    }
}
