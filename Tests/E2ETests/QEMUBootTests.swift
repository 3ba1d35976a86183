import Foundation
import Glibc
import TestSupport
import Testing

/// Real VMs: `fc-supervisor run --vmm qemu` boots the guest kernel under QEMU (software emulation here) with
/// vm-init as PID 1 in an initramfs, reached through a virtio-serial port. Four boots in all, one at a time
/// (boots are CPU-bound under emulation); each has a 30 s boot deadline and a hard kill at the test's deadline.
@Suite("QEMU end-to-end", .serialized)
struct QEMUBootTests {
    @Test("boot → hello, the VM powers off and QEMU exits")
    func bootHello() throws {
        let env = try E2EEnvironment.get()
        let p = try ChildUnderTest(env.supervisor, env.run(id: "hello", command: ["echo", "hello"]))
        let status = p.wait(timeout: 60)
        #expect(status == .exited(0), "stderr: \(p.stderr)")
        #expect(p.stdout == "hello\n")
        let pid = try #require(env.qemuPid(id: "hello"), "no booted event")
        #expect(!processExists(pid), "QEMU (pid \(pid)) still runs after the supervisor exited")
        let bootMs = try #require(env.bootToReadyMs(id: "hello"), "no ready event")
        print("e2e: boot → ready \(Int(bootMs)) ms (QEMU launch to vm-init's hello)")
        #expect(env.event("stopped", id: "hello")?["exit_code"] as? Int == 0)
    }

    @Test("run: a workload that prints and exits 3 → the supervisor exits 3 and QEMU exits")
    func runExitCode() throws {
        let env = try E2EEnvironment.get()
        let p = try ChildUnderTest(env.supervisor, env.run(id: "exit3", command: ["sh", "-c", "echo out; echo err >&2; exit 3"]))
        let status = p.wait(timeout: 60)
        #expect(status == .exited(3), "stderr: \(p.stderr)")
        #expect(p.stdout == "out\n")
        #expect(p.stderr.contains("err"))
        print("e2e: boot → ready \(Int(env.bootToReadyMs(id: "exit3") ?? -1)) ms")
        let pid = try #require(env.qemuPid(id: "exit3"))
        #expect(!processExists(pid))
    }

    @Test("exec: echo, stdin, exit codes, a signal, -t stty size, mounts, 24 MiB to a pipe, 10 sequential and 10 concurrent, OOM")
    func execSurface() throws {
        let env = try E2EEnvironment.get()
        let id = "execs"
        let vm = try ChildUnderTest(env.supervisor, env.run(id: id, command: ["sleep", "600"]))
        defer { if vm.isRunning { vm.kill(SIGKILL); vm.wait(timeout: 5) } }
        try #require(env.waitUntilReady(id: id, process: vm), "vm-init never said hello: \(vm.stderr)")
        print("e2e: boot → ready \(Int(env.bootToReadyMs(id: id) ?? -1)) ms")

        func exec(_ command: [String], _ options: [String] = [], input: [UInt8]? = nil) throws -> Completed {
            try runToEnd(env.supervisor, env.exec(id: id, options, command: command), input: input, timeout: 60)
        }

        let echo = try exec(["echo", "hello", "world"])
        #expect(echo.exitCode == 0 && echo.stdout == "hello world\n", "\(echo)")

        let stdin = try exec(["cat"], ["-i"], input: Array("line one\nline two\n".utf8))
        #expect(stdin.exitCode == 0 && stdin.stdout == "line one\nline two\n", "\(stdin)")

        #expect(try exec(["sh", "-c", "exit 7"]).exitCode == 7)
        #expect(try exec(["/no/such/program"]).exitCode == 127)
        #expect(try exec(["sh", "-c", "kill -KILL $$"]).exitCode == 137)
        #expect(try exec(["sh", "-c", "kill -TERM $$"]).exitCode == 143)

        // `script` gives the exec client a terminal; its size is what the guest's pty must report.
        let command = "stty rows 33 cols 101; '\(env.supervisor)' exec -t --state-dir '\(env.stateRoot)' \(id) -- stty size"
        let tty = try runToEnd("/usr/bin/script", ["-qec", command, "/dev/null"], timeout: 60)
        #expect(tty.exitCode == 0, "\(tty)")
        #expect(tty.stdout.contains("33 101"), "\(tty)")

        let comm = try exec(["cat", "/proc/1/comm"])
        #expect(comm.stdout == "vm-init\n", "\(comm)")
        // vm-init's thrashing limit (Config.memoryMinTTLMs) reached the guest kernel's multi-gen LRU.
        let ttl = try exec(["cat", "/sys/kernel/mm/lru_gen/min_ttl_ms"])
        #expect(ttl.exitCode == 0 && ttl.stdout == "1000\n", "\(ttl)")
        let pts = try exec(["sh", "-c", "test -d /dev/pts && test -c /dev/ptmx && grep -q ' /dev/pts devpts ' /proc/mounts && echo ok"])
        #expect(pts.stdout == "ok\n", "\(pts)")

        // Bulk output to a reader that starts late: the credit runs out, and the frame that uses the last of it
        // is shorter than what waits in the pipe (a line on stderr, which shares the window, sees to that). A
        // virtio-serial port given such a splice directly breaks the channel (FramedConnection.Options.stagesSplices).
        let bulk = "'\(env.supervisor)' exec --state-dir '\(env.stateRoot)' \(id) -- "
            + "sh -c 'echo first >&2; dd if=/dev/zero bs=1M count=24 2>/dev/null' 2>/dev/null"
        let sums = try runToEnd("/bin/sh", ["-c", "\(bulk) | (sleep 1; sha256sum); head -c 25165824 /dev/zero | sha256sum"], timeout: 30)
        let lines = sums.stdout.split(separator: "\n")
        // Required: after a broken channel every later exec would wait out its own timeout.
        try #require(sums.exitCode == 0 && lines.count == 2 && lines.first == lines.last, "\(sums)")

        for i in 0..<10 {
            let r = try exec(["echo", "sequential-\(i)"])
            #expect(r.exitCode == 0 && r.stdout == "sequential-\(i)\n", "\(r)")
        }

        let concurrent = try (0..<10).map { i in
            try ChildUnderTest(env.supervisor, env.exec(id: id, command: ["sh", "-c", "sleep 0.3; echo concurrent-\(i); exit \(i)"]))
        }
        for (i, p) in concurrent.enumerated() {
            let status = p.wait(timeout: 60)
            #expect(status == .exited(Int32(i)) && p.stdout == "concurrent-\(i)\n", "exec \(i): \(status) \(p.stdout) \(p.stderr)")
        }

        // 256 MiB of guest memory; a string that doubles forever gets its process OOM-killed (SIGKILL).
        let oom = try exec(["awk", "BEGIN { s = \"x\"; while (1) s = s s }"])
        #expect(oom.exitCode == 137, "\(oom)")
        let after = try exec(["cat", "/proc/1/comm"])
        #expect(after.exitCode == 0 && after.stdout == "vm-init\n", "vm-init did not survive the OOM kill: \(after)")

        // A signal to the main workload: it dies of SIGTERM, the supervisor exits 143 and QEMU exits.
        let killed = try runToEnd(env.supervisor, ["kill", "--state-dir", env.stateRoot, id, "TERM"], timeout: 30)
        #expect(killed.exitCode == 0, "\(killed)")
        #expect(vm.wait(timeout: 30) == .exited(143), "stderr: \(vm.stderr)")
        let pid = try #require(env.qemuPid(id: id))
        #expect(!processExists(pid))
    }

    @Test("a run workload that fills memory is reported OOM-killed; vm-init reports it and powers off")
    func oomKilledWorkload() throws {
        let env = try E2EEnvironment.get()
        let id = "oom"
        let p = try ChildUnderTest(env.supervisor, env.run(id: id, command: ["awk", "BEGIN { s = \"x\"; while (1) s = s s }"]))
        let status = p.wait(timeout: 60)
        #expect(status == .exited(137), "stderr: \(p.stderr)")
        print("e2e: boot → ready \(Int(env.bootToReadyMs(id: id) ?? -1)) ms")
        let exited = try #require(env.event("exited", id: id), "no exited event")
        #expect(exited["exit_code"] as? Int == 137)
        #expect((exited["message"] as? String)?.contains("OOM") == true, "exited event: \(exited)")
        // vm-init outlived the OOM kill: it reported the exit and shut the VM down cleanly (QEMU exited).
        let pid = try #require(env.qemuPid(id: id))
        #expect(!processExists(pid))
        #expect(env.event("error", id: id) == nil, "error event: \(String(describing: env.event("error", id: id)))")
    }
}
