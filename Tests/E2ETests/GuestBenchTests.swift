import Foundation
import Glibc
import TestSupport
import Testing

/// The short form of `make bench BENCH_ONLY=guest` (Benchmarks/guest.sh, BENCHMARKS.md section 8): one round of
/// each boot, small transfers, 10 sessions. It checks that the measurement works end to end — the C init and
/// vm-init both booted and spoke on the channel, every figure came out and is plausible — never a timing bar.
@Suite("Guest benchmark, short form", .serialized)
struct GuestBenchTests {
    @Test("guest.sh: C init, padded C init, C and Embedded Swift inits with vm-init's duties and vm-init all boot and speak; split, throughput, RSS and size all measured")
    func guestBenchmarkShortForm() throws {
        let candidates = [RepoPath.file("build/vmlinux"), RepoPath.file("../shared/guest-kernel/vmlinux")]
        let kernel = try #require(candidates.first { access($0, R_OK) == 0 }, "no guest kernel (make guest-kernel)")
        let vmInit = RepoPath.file("build/vm-init")
        try #require(access(vmInit, X_OK) == 0, "no static vm-init at \(vmInit) (make vm-init-static)")
        let supervisor = try BuiltProduct.path("fc-supervisor")
        let dir = try TemporaryDirectory(prefix: "/var/tmp/fcgb-")
        defer { dir.remove() }
        let initramfs = dir.file("initramfs.cpio")
        let image = try runToEnd("/bin/bash", [RepoPath.file("GuestImage/build-image.sh"), "--vm-init", vmInit,
                                               "--initrd", initramfs], timeout: 120)
        try #require(image.exitCode == 0, "build-image.sh: \(image.stderr)")

        var environment = ProcessInfo.processInfo.environment
        environment.merge(["BENCH_GUEST_RUNS": "1", "BENCH_GUEST_MIB": "16", "BENCH_GUEST_ROUNDS": "1",
                           "BENCH_GUEST_SESSIONS": "10", "BENCH_GUEST_NO_REPORT": "1",
                           "BENCH_GUEST_OUT": dir.file("guest.json"), "FC_SUPERVISOR": supervisor,
                           "BENCH_GUEST_KERNEL": kernel, "BENCH_GUEST_INITRAMFS": initramfs,
                           "BENCH_GUEST_VMINIT": vmInit]) { $1 }
        let run = try runToEnd("/bin/bash", [RepoPath.file("Benchmarks/guest.sh")], environment: environment, timeout: 600)
        try #require(run.exitCode == 0, "guest.sh failed: \(run.stderr)")
        let data = try #require(FileManager.default.contents(atPath: dir.file("guest.json")), "no results")
        let s = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        print("e2e: guest bench short form: \(String(decoding: data, as: UTF8.self).prefix(1500))")

        #expect((s["errors"] as? [String])?.isEmpty == true, "boot errors: \(s["errors"] ?? "?")")
        let cinit = try #require(s["cinit"] as? [String: Any])
        let vm = try #require(s["vm-init"] as? [String: Any])
        let padded = try #require(s["cinit-padded"] as? [String: Any], "no boot of the padded C init")
        let duties = try #require(s["cinit-duties"] as? [String: Any], "no boot of the C init with vm-init's duties")
        let embedded = try #require(s["embedded-duties"] as? [String: Any], "no boot of the Embedded Swift init with vm-init's duties")
        for (name, entry) in [("C init", cinit), ("padded C init", padded), ("C init with duties", duties),
                              ("Embedded Swift init with duties", embedded), ("vm-init", vm)] {
            #expect(entry["boots"] as? Int == 1, "\(name) did not speak on the channel: \(entry)")
            let ms = entry["first_byte_ms"] as? Double ?? -1
            #expect(ms > 0 && ms < 60_000, "\(name) first byte: \(ms) ms")
        }
        // The first request served (a ping on the greeting or hello) comes after the first byte, for the C init and
        // for vm-init, whose workload duties run between the two.
        for (name, entry) in [("C init", cinit), ("vm-init", vm)] {
            let first = entry["first_byte_ms"] as? Double ?? -1, served = entry["served_ms"] as? Double ?? -1
            #expect(served > first && first > 0 && served < 60_000, "\(name): first byte \(first) ms, served \(served) ms")
        }
        // Both inits with duties did every step of vm-init's boot work (mounts, lo, cgroups, ...) before they spoke.
        for (name, entry) in [("C init", duties), ("Embedded Swift init", embedded)] {
            #expect(entry["duties_failed"] as? Int == 0, "\(name) duties: \(entry)")
            let dutiesMs = entry["main_to_duties_ms"] as? Double ?? -1
            #expect(dutiesMs > 0 && dutiesMs < 60_000, "\(name) main → duties done: \(dutiesMs) ms")
        }
        // vm-init's full Swift build boots and says hello beside the Embedded one, when it is built (make test does).
        if access(RepoPath.file("build/vm-init-full"), X_OK) == 0 {
            let full = try #require(s["vm-init-full"] as? [String: Any], "no boot of build/vm-init-full")
            #expect(full["boots"] as? Int == 1, "vm-init-full did not speak on the channel: \(full)")
            #expect((full["timing_keys"] as? [String] ?? []).contains("main"), "vm-init-full's hello: \(full)")
        }
        // The Embedded Swift init is a static binary of its own, far smaller than vm-init's.
        let embeddedBytes = s["embedded_bytes"] as? Int ?? 0
        #expect(embeddedBytes > 64 << 10 && embeddedBytes < 4 << 20, "Embedded Swift init: \(embeddedBytes) bytes")
        // vm-init's hello carried every milestone of the split, in boot order.
        let keys = Set(vm["timing_keys"] as? [String] ?? [])
        #expect(keys.isSuperset(of: ["start", "main", "mounted", "connected"]), "boot_timings keys: \(keys)")
        for step in ["kernel_to_pid1_ms", "pid1_to_main_ms", "main_to_mounted_ms", "mounted_to_hello_ms"] {
            let v = vm[step] as? Double ?? -1
            #expect(v >= 0 && v < 60_000, "vm-init \(step): \(v)")
        }
        for (what, value) in [("raw out", cinit["raw_out_mib_s"]), ("raw in", cinit["raw_in_mib_s"]),
                              ("exec stdout", s["exec_stdout_mib_s"]), ("exec stdin", s["exec_stdin_mib_s"]),
                              ("whole exec stdout", s["exec_stdout_whole_mib_s"]), ("whole exec stdin", s["exec_stdin_whole_mib_s"]),
                              ("exec stdout from dd", s["exec_dd_stdout_mib_s"]), ("exec stdin from head", s["exec_head_stdin_mib_s"])] {
            let v = value as? Double ?? -1
            #expect(v > 0.1 && v < 100_000, "\(what): \(v) MiB/s")
        }
        #expect((s["exec_failures"] as? [String])?.isEmpty == true, "exec rounds: \(s["exec_failures"] ?? "?")")
        // The transfer is timed inside the whole exec, which adds its start and exit: it is not the slower one
        // (10 % of slack for the first read's bytes, which the transfer leaves out).
        for stream in ["stdout", "stdin"] {
            let transfer = s["exec_\(stream)_mib_s"] as? Double ?? 0, whole = s["exec_\(stream)_whole_mib_s"] as? Double ?? 1
            #expect(transfer >= 0.9 * whole, "\(stream): transfer \(transfer) MiB/s, whole exec \(whole) MiB/s")
        }
        let rss = try #require(s["rss_kib"] as? [String: Any])
        let idle = (rss["idle"] as? [String: Any])?["VmRSS"] as? Int ?? 0
        let ten = ((rss["sessions"] as? [String: Any])?["10"] as? [String: Any])?["VmRSS"] as? Int ?? 0
        #expect(idle > 256 && idle < 1 << 20, "idle RSS \(idle) KiB")
        #expect(ten > 256 && ten < 1 << 20, "RSS with 10 sessions \(ten) KiB")
        // The padding brings the C init's initramfs to vm-init's size (the cpio's own headers aside).
        let vmCpio = s["vminit_cpio_bytes"] as? Int ?? 0, paddedCpio = s["cinit_padded_cpio_bytes"] as? Int ?? 0
        #expect(vmCpio > 1 << 20 && abs(paddedCpio - vmCpio) < 4096, "initramfs sizes: vm-init \(vmCpio), padded C init \(paddedCpio)")
        let size = s["binary_bytes"] as? Int ?? 0
        #expect(size > 1 << 20, "vm-init size \(size)")
    }

    /// GuestImage/hot-code/profile.sh (`make vm-init-order`): a QEMU boot of build/vm-init-full (the full Swift
    /// build) under the block plugin yields the functions that ran, all of them symbols of the same build, from
    /// start-up to the agent's loop.
    @Test("hot-code profile: the functions vm-init ran in a real VM, named from its own build")
    func hotCodeProfile() throws {
        let unstripped = RepoPath.file(".build-vminit/release/vm-init")
        try #require(access(RepoPath.file("build/vm-init-full"), X_OK) == 0 && access(unstripped, R_OK) == 0,
                     "no full static vm-init (make vm-init-full)")
        let candidates = [RepoPath.file("build/vmlinux"), RepoPath.file("../shared/guest-kernel/vmlinux")]
        let kernel = try #require(candidates.first { access($0, R_OK) == 0 }, "no guest kernel (make guest-kernel)")
        let dir = try TemporaryDirectory(prefix: "/var/tmp/fc-e2e-hotcode-")
        defer { dir.remove() }
        let out = dir.file("vm-init.order")
        var environment = ProcessInfo.processInfo.environment
        environment.merge(["FC_SUPERVISOR": try BuiltProduct.path("fc-supervisor"), "BENCH_GUEST_KERNEL": kernel]) { $1 }
        let run = try runToEnd("/bin/bash", [RepoPath.file("GuestImage/hot-code/profile.sh"), out],
                               environment: environment, timeout: 300)
        try #require(run.exitCode == 0, "profile.sh failed: \(run.stderr)")
        let names = (FileContents.text(out) ?? "").split(separator: "\n").map(String.init)
        let defined = Set(try runToEnd("/usr/bin/nm", ["--defined-only", unstripped]).stdout
            .split(separator: "\n").compactMap { $0.split(separator: " ").last.map(String.init) })
        #expect(names.count > 500, "\(names.count) functions")
        let unknown = names.filter { !defined.contains($0) }
        #expect(unknown.isEmpty, "not symbols of this build: \(unknown.prefix(5))")
        // The C entry, vm-init's Swift entry and the event loop's wait all ran.
        for symbol in ["_start", "vm_init_main"] { #expect(names.contains(symbol), "\(symbol) missing") }
        #expect(names.contains { $0.contains("EventLoop") }, "no EventLoop function")
    }

    /// Benchmarks/guest_profile.sh, briefly: the sampler runs in the guest during a transfer and its samples are
    /// attributed to vm-init's own functions (from the unstripped build of the guest's binary) and the kernel's.
    @Test("guest_profile.sh: a short transfer is sampled in the guest and attributed to vm-init's and the kernel's functions")
    func guestProfileShortForm() throws {
        let candidates = [RepoPath.file("build/vmlinux"), RepoPath.file("../shared/guest-kernel/vmlinux")]
        let kernel = try #require(candidates.first { access($0, R_OK) == 0 }, "no guest kernel (make guest-kernel)")
        try #require(access(RepoPath.file("build/vm-init"), X_OK) == 0, "no static vm-init (make vm-init-static)")
        var environment = ProcessInfo.processInfo.environment
        environment.merge(["FC_SUPERVISOR": try BuiltProduct.path("fc-supervisor"), "BENCH_GUEST_KERNEL": kernel,
                           "GUEST_PROFILE_TOP": "60"]) { $1 }
        let run = try runToEnd("/bin/bash", [RepoPath.file("Benchmarks/guest_profile.sh"), "out", "64"],
                               environment: environment, timeout: 300)
        try #require(run.exitCode == 0, "guest_profile.sh failed: \(run.stderr)")
        print("e2e: guest profile short form:\n\(run.stdout.prefix(2500))")
        let lines = run.stdout.split(separator: "\n").map { $0.split(separator: " ").joined(separator: " ") }
        for share in ["% vm-init kernel", "% vm-init user", "% workload kernel"] {
            #expect(lines.contains { $0.hasSuffix(share) }, "no \(share) share")
        }
        // Functions by name: vm-init's own (not "?") and, with the kernel's System.map, the kernel's.
        let named = lines.filter { $0.contains("% vm-init user ") && !$0.hasSuffix(" ?") }
        #expect(!named.isEmpty, "no vm-init function named")
        if access(RepoPath.file("build/kernel-build/linux-source-6.1/System.map"), R_OK) == 0 {
            #expect(lines.contains { $0.contains("% vm-init kernel ") && !$0.hasSuffix(" kernel") }, "no kernel function named")
        }
    }
}
