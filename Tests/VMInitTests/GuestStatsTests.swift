import Testing
import VsockProtocol
@testable import VMInit

/// The parsers behind `stats_report` (PROTOCOL.md §4.25) on fixed kernel text; the VM rung compares the whole
/// report with the guest's files (Tests/E2ETests/HealthE2ETests.swift).
struct GuestStatsTests {
    @Test func meminfoInBytes() {
        let text = "MemTotal:         237568 kB\nMemFree:          176128 kB\nMemAvailable:     196608 kB\nBuffers: 0 kB\n"
        #expect(GuestStats.memory(text) == GuestMemoryStats(totalBytes: 237568 * 1024, availableBytes: 196608 * 1024,
                                                             freeBytes: 176128 * 1024))
        #expect(GuestStats.memory("MemTotal: 5 kB\n") == nil, "no MemAvailable: no memory group")
    }

    @Test func procStatInNanoseconds() {
        let text = "cpu  247 0 91 8123 2 0 1 0 0 0\ncpu0 120 0 45 4061 1 0 0 0 0 0\ncpu1 127 0 46 4062 1 0 1 0 0 0\nintr 1\n"
        #expect(GuestStats.cpu(text) == GuestCPUStats(userNs: 2_470_000_000, systemNs: 920_000_000,
                                                       idleNs: 81_250_000_000, count: 2))
        #expect(GuestStats.cpu("cpu 1 2\n") == nil)
    }

    @Test func loadavgInThousandths() {
        let parsed = GuestStats.load("0.12 0.05 1.00 1/83 412\n")
        #expect(parsed?.milli == [120, 50, 1000] && parsed?.tasks == 83)
        #expect(GuestStats.load("x y z") == nil)
    }

    @Test func keyedFilesSkipWhatDoesNotParse() {
        let text = "low 0\nhigh 0\nmax 3\noom 2\noom_kill 1\nbroken\nname value\n"
        #expect(GuestStats.values(of: ["oom", "oom_kill", "max", "broken", "name", "absent"], in: text)
                == [2, 1, 3, nil, nil, nil])
        // A key is a whole first field: `oom` is not `oom_kill`'s prefix, nor `oom_kill` a longer line's.
        #expect(GuestStats.values(of: ["oom_kill"], in: "oom 2\noom_kill_extra 9\n") == [nil])
        #expect(GuestStats.values(of: ["oom"], in: "oom_kill 1\n") == [nil])
    }

    @Test func onlyWholeNumbersAreValues() {
        let text = "a 12abc\nb -1\nc 18446744073709551616\nd 18446744073709551615\ne\t7\nf  8 kB\ng 1.5\n"
        #expect(GuestStats.values(of: ["a", "b", "c", "d", "e", "f", "g"], in: text)
                == [nil, nil, nil, UInt64.max, 7, 8, nil])
        // The last line with a key wins; a file without a trailing newline still has its last line.
        #expect(GuestStats.values(of: ["x"], in: "x 1\nx 2") == [2])
        #expect(GuestStats.values(of: ["x"], in: "") == [nil])
    }

    @Test func meminfoKeysEndAtTheirColon() {
        let text = "MemTotal:\t  2048 kB\nMemFree: 10 kB\n"
        #expect(GuestStats.values(of: ["MemTotal", "MemFree"], in: text, colon: true) == [2048, 10])
        #expect(GuestStats.values(of: ["MemTotal"], in: text) == [nil], "without colon: the key is `MemTotal:`")
    }

    @Test func aSessionWithoutACgroupHasOnlyItsIdAndPid() {
        #expect(GuestStats.session(4, pid: 17, cgroup: nil) == SessionStats(session: 4, pid: 17))
    }
}
