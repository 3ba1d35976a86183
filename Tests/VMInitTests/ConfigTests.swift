import LinuxSystem
import Testing
@testable import VMInit

struct ConfigTests {
    @Test func kernelCommandLineAndFlags() throws {
        let line = "console=ttyS0 reboot=k vminit.port=2000 vminit.hostname=box vminit.drain_ms=250 vminit.shutdown=poweroff quiet"
        let fromKernel = try Config.load(arguments: [], readProcCmdline: { line })
        #expect(fromKernel.listen == .vsock(port: 2000))
        #expect(fromKernel.hostname == "box")
        #expect(fromKernel.drainMs == 250)
        #expect(fromKernel.shutdownMode == .poweroff)

        let flags = try Config.load(arguments: ["--cmdline", line, "--listen", "unix:/var/tmp/x.sock", "--drain-ms=10"],
                                    readProcCmdline: { nil })
        #expect(flags.listen == .unix(path: "/var/tmp/x.sock"))
        #expect(flags.drainMs == 10)
        #expect(flags.hostname == "box")

        let defaults = try Config.load(arguments: [], readProcCmdline: { "" })
        #expect(defaults.listen == .vsock(port: 1024))
        #expect(defaults.hostname == nil)
        #expect(try ListenAddress(parsing: "serial:name=vmchan") == .serial(device: "name=vmchan"))
        #expect(throws: ConfigError.self) { try Config.load(arguments: ["--listen", "tcp:1"], readProcCmdline: { nil }) }
        #expect(throws: ConfigError.self) { try Config.load(arguments: ["--bogus"], readProcCmdline: { nil }) }
        #expect(throws: ConfigError.self) { try Config.load(arguments: [], readProcCmdline: { "vminit.port=abc" }) }
    }

    @Test func commandLineWordsSplitLikeTheKernel() throws {
        #expect(Config.splitCommandLine(" a\tb\n\"c d\"e \"\" vminit.x=\"1 2\"\n") == ["a", "b", "c de", "", "vminit.x=1 2"])
        let quoted = try Config.load(arguments: [], readProcCmdline: { "quiet vminit.hostname=\"my box\" vminit.log=debug\n" })
        #expect(quoted.hostname == "my box" && quoted.logLevel == .debug)
        #expect(throws: ConfigError.self) { try Config.load(arguments: [], readProcCmdline: { "vminit.hostname" }) }
        #expect(throws: ConfigError.self) { try Config.load(arguments: [], readProcCmdline: { "vminit.bogus=1" }) }
        #expect(throws: ConfigError.self) { try Config.load(arguments: ["--bogus=1"], readProcCmdline: { nil }) }
        #expect(throws: ConfigError.self) { try Config.load(arguments: ["--log"], readProcCmdline: { nil }) }
        #expect(try Config.load(arguments: ["--log=debug", "--cmdline", "vminit.log=error"], readProcCmdline: { nil }).logLevel == .debug)
    }

    @Test func thrashingLimitComesFromTheKernelLine() throws {
        #expect(try Config.load(arguments: [], readProcCmdline: { "" }).memoryMinTTLMs == 1000)
        #expect(try Config.load(arguments: [], readProcCmdline: { "vminit.min_ttl_ms=0" }).memoryMinTTLMs == 0)
        #expect(try Config.load(arguments: [], readProcCmdline: { "vminit.min_ttl_ms=250" }).memoryMinTTLMs == 250)
        for bad in ["vminit.min_ttl_ms=-1", "vminit.min_ttl_ms=1s", "vminit.min_ttl_ms=3600001", "vminit.min_ttl_ms="] {
            #expect(throws: ConfigError.self) { try Config.load(arguments: [], readProcCmdline: { bad }) }
        }
    }

    @Test func userDatabase() {
        let db = UserDatabase(passwd: "root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n",
                              group: "root:x:0:\nalice:x:1000:\nwheel:x:10:alice,bob\n")
        let alice = try? db.resolve("alice").get()
        #expect(alice?.uid == 1000 && alice?.gid == 1000)
        #expect(alice?.groups == [1000, 10])
        #expect(alice?.home == "/home/alice")
        #expect((try? db.resolve("1000:10").get())?.gid == 10)
        #expect((try? db.resolve("4242").get())?.uid == 4242)
        #expect((try? db.resolve("alice:wheel").get())?.gid == 10)
        #expect((try? db.resolve("mallory").get()) == nil)
        #expect((try? db.resolve("alice:nogroup").get()) == nil)
    }
}

/// /proc/vmstat's `oom_kill` line, read on every exec as the OOM baseline.
struct OOMCounterTests {
    @Test func parsesTheOOMKillLineOnly() {
        func parse(_ text: String) -> UInt64? { OOMCounter.parse(Array(text.utf8)) }
        #expect(parse("nr_free_pages 100\noom_kill 7\nnr_foo 1\n") == 7)
        #expect(parse("oom_kill 0") == 0)
        #expect(parse("xoom_kill 5\noom_kill 18446744073709551615\n") == UInt64.max)
        #expect(parse("nr_free_pages 100\nnr_foo 1\n") == nil)
        #expect(parse("oom_kill 18446744073709551616\n") == nil)
        #expect(parse("oom_kill \n") == nil)
        #expect(parse("oom_kill 12a\n") == nil)
        #expect(parse("") == nil)
        // The real file on this machine has the counter (CONFIG_VM_EVENT_COUNTERS is on in Debian's kernel).
        let real = (try? Files.readAll("/proc/vmstat")).flatMap(OOMCounter.parse)
        #expect(real != nil && real == oomKillCount())
    }
}
