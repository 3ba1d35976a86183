import Foundation
import Glibc
import LinuxSystem
import TestSupport
import Testing

/// Checkpoint and restore through runc's command line against real VMs (QEMU): a counter that lives only in the
/// workload's memory survives a checkpoint, two clones restored from one directory continue from it with their
/// own clocks, RNG and hostnames, and broken or foreign checkpoint directories are refused with nothing left.
@Suite(.serialized) struct SnapshotE2ETests {
    let env: E2EEnvironment
    let temp: TemporaryDirectory
    let config: String
    var root: String { temp.path + "/r" }

    init() throws {
        env = try E2EEnvironment.get()
        try SystemControl.setChildSubreaper()
        temp = try TemporaryDirectory(prefix: "/tmp/fcsnap-")
        config = temp.file("config.json")
        try writeConfig(config, kernel: env.kernel)
    }

    private func writeConfig(_ path: String, kernel: String) throws {
        try Files.writeAtomically(path, """
            {"kernel": "\(kernel)", "initramfs": "\(env.initrd)", "vmm": "qemu",
             "defaults": {"vcpus": 1, "memory_mib": 256, "boot_timeout_ms": 30000}}
            """)
    }

    /// A bundle running `sh -c script` on busybox with the applets these tests use.
    private func bundle(_ script: String) throws -> String {
        let path = temp.file("bundle")
        for directory in ["bin", "dev", "proc", "sys", "tmp"] { try Files.makeDirectories(path + "/rootfs/" + directory) }
        try Files.copy("/bin/busybox", to: path + "/rootfs/bin/busybox", mode: 0o755)
        for applet in ["sh", "sleep", "echo", "cat", "adjtimex", "od", "hostname", "true"] {
            try Files.makeSymlink(path + "/rootfs/bin/" + applet, to: "busybox")
        }
        let spec: [String: Any] = [
            "ociVersion": "1.0.2", "root": ["path": "rootfs"],
            "process": ["args": ["sh", "-c", script], "cwd": "/", "env": ["PATH=/bin"]],
            "mounts": [["destination": "/proc", "type": "proc", "source": "proc"]],
        ]
        try Files.writeAtomically(path + "/config.json", Array(try JSONSerialization.data(withJSONObject: spec)))
        return path
    }

    private func runtime(_ arguments: [String], config: String? = nil, timeout: Double = 120) throws -> Completed {
        try runToEnd(env.supervisor, ["--root", root, "--config", config ?? self.config] + arguments, timeout: timeout)
    }

    private func start(_ arguments: [String]) throws -> ChildUnderTest {
        try ChildUnderTest(env.supervisor, ["--root", root, "--config", config] + arguments)
    }

    /// The counter lines a workload printed (`n=…`).
    private static func counts(_ output: String) -> [Int] {
        output.split(separator: "\n").compactMap { $0.hasPrefix("n=") ? Int($0.dropFirst(2)) : nil }
    }

    /// The guest's wall clock (busybox `adjtimex`: tv_sec, tv_usec) against the host's around the exec: how far
    /// outside [before, after] it is, in ms (0 when inside).
    private func clockSkewMs(_ id: String) throws -> Double {
        let before = Double(SystemControl.wallClockNanoseconds()) / 1e6
        let read = try runtime(["exec", id, "adjtimex"])
        let after = Double(SystemControl.wallClockNanoseconds()) / 1e6
        #expect(read.status == 0, "\(read)")
        func field(_ name: String) -> Double? {
            read.stdout.split(separator: "\n").first { $0.contains(name) }.flatMap { $0.split(separator: " ").last }.flatMap { Double($0) }
        }
        let guest = try #require(field("time.tv_sec:")) * 1e3 + (try #require(field("time.tv_usec:"))) / 1e3
        return guest < before ? before - guest : max(0, guest - after)
    }

    @Test func checkpointedCounterRestoresAsTwoClones() throws {
        defer { temp.remove() }
        let b = try bundle("i=0; while true; do echo n=$i; i=$((i+1)); sleep 0.1; done")
        let original = try start(["run", "--bundle", b, "c0"])
        #expect(original.waitForOutput("n=10", timeout: 90), "\(original.stderr)")
        // A session open at checkpoint time ends as lost.
        let open = try start(["exec", "c0", "sleep", "1000"])
        Deadline.sleep(0.5)
        let image = temp.file("ckpt")
        let checkpoint = try runtime(["checkpoint", "--image-path", image, "--work-path", temp.file("work"), "c0"])
        #expect(checkpoint.status == 0, "\(checkpoint)")
        #expect(original.wait(timeout: 30) == .exited(137), "\(original.stderr)")
        #expect(open.wait(timeout: 30) == .exited(255))
        #expect(open.stderr.contains("fc-supervisor: session lost: snapshot"), "\(open.stderr)")
        let last = try #require(Self.counts(original.stdout).last)
        let manifest = try #require(FileContents.text(image + "/manifest.json"))
        #expect(manifest.contains("\"format_version\" : 1") && manifest.contains("\"vmm\" : \"qemu\""), "\(manifest)")
        // A foreground run removes its container when it ends, as runc's does.
        #expect(!Files.exists("\(root)/c0"))

        // The checkpoint is 5 s old when the clones start.
        Deadline.sleep(5)
        var clones: [ChildUnderTest] = []
        for id in ["c1", "c2"] {
            let clone = try start(["restore", "--image-path", image, "--bundle", b, "--work-path", temp.file("w-" + id),
                                   "--pid-file", temp.file(id + ".pid"), id])
            clones.append(clone)
            #expect(clone.waitForOutput("n=\(last + 3)", timeout: 60), "\(id): \(clone.stdout.suffix(200)) \(clone.stderr)")
            // Continues from the checkpointed count: the first line after restore is the next number.
            #expect(Self.counts(clone.stdout).first == last + 1, "\(id): \(clone.stdout.prefix(200))")
            #expect(try clockSkewMs(id) <= 50)
            let name = try runtime(["exec", id, "hostname"])
            #expect(name.status == 0 && name.stdout == id + "\n", "\(name)")
            #expect(env.event("restored", id: id) != nil || FileContents.text("\(root)/\(id)/events.jsonl")?.contains("\"restored\"") == true)
        }
        let random = try ["c1", "c2"].map { try runtime(["exec", $0, "od", "-An", "-N16", "-tx1", "/dev/urandom"]).stdout }
        #expect(random[0].count > 20 && random[0] != random[1], "\(random)")
        for (index, id) in ["c1", "c2"].enumerated() {
            #expect(try runtime(["kill", id, "KILL"]).status == 0)
            #expect(clones[index].wait(timeout: 30) == .exited(137), "\(clones[index].stderr)")
            #expect(try runtime(["delete", id]).status == 0)
        }

        try refusesBrokenCheckpoints(image, bundle: b)
    }

    /// Broken or foreign directories: one line naming the problem, exit 1, no container and no process left.
    private func refusesBrokenCheckpoints(_ image: String, bundle b: String) throws {
        func variant(_ name: String, _ change: (String) throws -> Void) throws -> String {
            let copy = temp.file(name)
            #expect(try runToEnd("/bin/cp", ["-a", image, copy]).status == 0)
            try change(copy)
            return copy
        }
        let otherKernel = temp.file("vmlinux-other")
        try Files.copy(env.kernel, to: otherKernel, mode: 0o644)
        let appended = try FileDescriptor.open(otherKernel, flags: O_WRONLY | O_APPEND)
        try appended.writeAll(Array("x".utf8))
        appended.close()
        let otherConfig = temp.file("config-other.json")
        try writeConfig(otherConfig, kernel: otherKernel)
        let cases: [(String, String, String?, String)] = [
            ("no-memory", try variant("no-memory") { try Files.remove($0 + "/memory") }, nil, "memory is missing"),
            ("truncated", try variant("truncated") { _ = truncate($0 + "/memory", 4096) }, nil, "(truncated?)"),
            ("version", try variant("version") { dir in
                let text = try #require(FileContents.text(dir + "/manifest.json"))
                try Files.writeAtomically(dir + "/manifest.json", text.replacingOccurrences(of: "\"format_version\" : 1", with: "\"format_version\" : 2"))
            }, nil, "format version 2"),
            ("kernel", image, otherConfig, "another kernel"),
        ]
        for (id, directory, config, expected) in cases {
            let result = try runtime(["restore", "--detach", "--image-path", directory, "--bundle", b, "broken-" + id], config: config)
            #expect(result.status == 1, "\(id): \(result)")
            #expect(result.stderr.contains(expected) && result.stderr.split(separator: "\n").count == 1, "\(id): \(result.stderr)")
            #expect(!Files.exists("\(root)/broken-\(id)"), "\(id): state left behind")
            #expect(Self.processesNaming("broken-" + id).isEmpty, "\(id): processes left running")
        }
    }

    /// Pids whose command line names `text` (the supervisor and its VMM carry the container id).
    private static func processesNaming(_ text: String) -> [Int32] {
        Directory.names("/proc").compactMap(Int32.init).filter { pid in
            guard let bytes = FileContents.bytes("/proc/\(pid)/cmdline") else { return false }
            return String(decoding: bytes.map { $0 == 0 ? 32 : $0 }, as: UTF8.self).contains(text)
        }
    }
}
