import Foundation
import LinuxSystem
import OCIRuntime
import Testing
import TestSupport
import VMM

/// The runtime configuration file: where it is found, what it holds, one line for every problem.
struct RuntimeConfigurationTests {
    @Test func resolutionOrderIsFlagThenEnvironmentThenDefault() {
        let env = ["FC_SUPERVISOR_CONFIG": "/env/config.json"]
        #expect(RuntimeConfiguration.locate(flag: "/flag.json", environment: env) == ("/flag.json", .flag))
        #expect(RuntimeConfiguration.locate(flag: nil, environment: env) == ("/env/config.json", .environment))
        #expect(RuntimeConfiguration.locate(flag: nil, environment: [:]) == ("/etc/fc-supervisor/config.json", .defaultPath))
        // Empty counts as unset.
        #expect(RuntimeConfiguration.locate(flag: "", environment: env) == ("/env/config.json", .environment))
        #expect(RuntimeConfiguration.locate(flag: nil, environment: ["FC_SUPERVISOR_CONFIG": ""]).source == .defaultPath)
    }

    @Test func missingFileSaysWhereThePathCameFrom() throws {
        let temp = try TemporaryDirectory(prefix: "/var/tmp/oci-config-")
        defer { temp.remove() }
        let missing = temp.file("nope.json")
        expectOCIError(.configurationNotFound, "runtime configuration \(missing) does not exist (from --config)") {
            _ = try RuntimeConfiguration.load(flag: missing, environment: ["FC_SUPERVISOR_CONFIG": "/etc/passwd"])
        }
        expectOCIError(.configurationNotFound, "runtime configuration \(missing) does not exist (from FC_SUPERVISOR_CONFIG)") {
            _ = try RuntimeConfiguration.load(flag: nil, environment: ["FC_SUPERVISOR_CONFIG": missing])
        }
        expectOCIError(.configurationNotFound,
                       "runtime configuration \(missing) does not exist (write it, or name another file with --config FILE or FC_SUPERVISOR_CONFIG)") {
            _ = try RuntimeConfiguration.load(path: missing, source: .defaultPath)
        }
    }

    @Test func fullFileMapsOntoAVMConfig() throws {
        let temp = try TemporaryDirectory(prefix: "/var/tmp/oci-config-")
        defer { temp.remove() }
        try Files.writeAtomically(temp.file("config.json"), """
            {"kernel": "vmlinux", "initramfs": "/abs/initrd.cpio", "vmm": "qemu", "image_cache": "images",
             "firecracker_binary": "bin/firecracker", "qemu_binary": "qemu-system-x86_64",
             "jailer": {"binary": "/usr/bin/jailer", "uid": 900, "gid": 901, "chroot_base": "/srv/j",
                        "cgroup_version": 1, "cgroups": ["cpu.shares=10"], "resource_limits": ["no-file=64"]},
             "defaults": {"vcpus": 2, "memory_mib": 384, "boot_timeout_ms": 5000}}
            """)
        let configuration = try RuntimeConfiguration.load(flag: nil, environment: ["FC_SUPERVISOR_CONFIG": temp.file("config.json")])
        #expect(configuration.kernel == temp.path + "/vmlinux")
        #expect(configuration.initramfs == "/abs/initrd.cpio")
        #expect(configuration.firecrackerBinary == temp.path + "/bin/firecracker")
        #expect(configuration.qemuBinary == "qemu-system-x86_64")
        #expect(configuration.imageCache == temp.path + "/images")

        let vm = configuration.vmConfig(id: "c1")
        #expect(vm.id == "c1")
        #expect(vm.kernel == temp.path + "/vmlinux" && vm.initrd == "/abs/initrd.cpio" && vm.vmm == .qemu)
        #expect(vm.firecrackerBin == temp.path + "/bin/firecracker" && vm.qemuBin == "qemu-system-x86_64")
        #expect(vm.vcpus == 2 && vm.memoryMiB == 384 && vm.bootTimeout == .milliseconds(5000))
        var jailer = JailerConfig(jailerBin: "/usr/bin/jailer", uid: 900, gid: 901)
        jailer.chrootBase = "/srv/j"
        jailer.cgroupVersion = 1
        jailer.cgroups = ["cpu.shares=10"]
        jailer.resourceLimits = ["no-file=64"]
        #expect(vm.jailer == jailer)
        #expect(vm.network.tapOwner == 900)

        // A bundle's options go on top.
        var sized = vm
        VMOptions(vcpus: 4).apply(to: &sized)
        #expect(sized.vcpus == 4 && sized.memoryMiB == 384)
    }

    @Test func minimalFileTakesDefaults() throws {
        let temp = try TemporaryDirectory(prefix: "/var/tmp/oci-config-")
        defer { temp.remove() }
        try Files.writeAtomically(temp.file("c.json"), #"{"kernel": "/boot/vmlinux"}"#)
        let configuration = try RuntimeConfiguration.load(path: temp.file("c.json"), source: .flag)
        #expect(configuration == RuntimeConfiguration(
            kernel: "/boot/vmlinux", initramfs: nil, vmm: .firecracker, firecrackerBinary: "firecracker",
            qemuBinary: "qemu-system-x86_64", jailer: nil, vcpus: 1, memoryMiB: 512, bootTimeout: .seconds(60),
            imageCache: "/var/lib/fc-supervisor/images"))
    }

    @Test func theHeartbeatComesFromDefaults() throws {
        let temp = try TemporaryDirectory(prefix: "/var/tmp/oci-config-")
        defer { temp.remove() }
        let path = temp.file("config.json")
        try Files.writeAtomically(path, #"{"kernel": "/k", "defaults": {"heartbeat_ms": 500, "liveness_timeout_ms": 3000}}"#)
        let configuration = try RuntimeConfiguration.load(path: path, source: .flag)
        #expect(configuration.heartbeatInterval == .milliseconds(500) && configuration.livenessTimeout == .seconds(3))
        try Files.writeAtomically(path, #"{"kernel": "/k"}"#)
        let plain = try RuntimeConfiguration.load(path: path, source: .flag)
        #expect(plain.heartbeatInterval == nil && plain.livenessTimeout == nil)
    }

    @Test func badFilesGiveOneLine() throws {
        let temp = try TemporaryDirectory(prefix: "/var/tmp/oci-config-")
        defer { temp.remove() }
        let path = temp.file("config.json")
        let cases: [(String, String)] = [
            ("{\"kernel\": \"/k\",\n \"vmm\": qemu}", "invalid JSON at line 2, column 9"),
            (#"{"vmm": "qemu"}"#, "kernel is required"),
            (#"{"kernel": ""}"#, "kernel is required"),
            (#"{"kernel": "/k", "vmm": "xen"}"#, "vmm \"xen\" is not one of firecracker, qemu"),
            (#"{"kernel": "/k", "kernal": "/k"}"#,
             "kernal: unknown key (known: defaults, firecracker_binary, image_cache, initramfs, jailer, kernel, qemu_binary, vmm)"),
            (#"{"kernel": "/k", "image_cache": ""}"#, "image_cache must not be empty"),
            (#"{"kernel": "/k", "image_cache": 3}"#, "image_cache: expected a string"),
            (#"{"kernel": "/k", "defaults": {"memory": 5}}"#,
             "defaults.memory: unknown key (known: boot_timeout_ms, heartbeat_ms, liveness_timeout_ms, memory_mib, vcpus)"),
            (#"{"kernel": "/k", "defaults": {"heartbeat_ms": -1}}"#, "defaults.heartbeat_ms must not be negative"),
            (#"{"kernel": "/k", "defaults": {"heartbeat_ms": 0, "liveness_timeout_ms": 5000}}"#,
             "defaults.liveness_timeout_ms must be at least one heartbeat (heartbeat_ms, 2000 by default, not 0)"),
            (#"{"kernel": "/k", "defaults": {"liveness_timeout_ms": 1000}}"#,
             "defaults.liveness_timeout_ms must be at least one heartbeat (heartbeat_ms, 2000 by default, not 0)"),
            (#"{"kernel": "/k", "defaults": {"vcpus": "2"}}"#, "defaults.vcpus: expected an integer"),
            (#"{"kernel": "/k", "defaults": {"vcpus": 0}}"#, "defaults.vcpus must be 1–32"),
            (#"{"kernel": "/k", "defaults": {"memory_mib": 8}}"#, "defaults.memory_mib must be at least 16"),
            (#"{"kernel": "/k", "defaults": {"boot_timeout_ms": 0}}"#, "defaults.boot_timeout_ms must be positive"),
            (#"{"kernel": "/k", "jailer": {"binary": "/j", "uid": 1}}"#, "jailer needs binary, uid and gid"),
            (#"{"kernel": "/k", "jailer": {"binary": "/j", "uid": 1, "gid": 1, "cgroup_version": 3}}"#,
             "jailer.cgroup_version must be 1 or 2"),
        ]
        for (text, problem) in cases {
            try Files.writeAtomically(path, text)
            expectOCIError(.invalidConfiguration, "runtime configuration \(path): \(problem)") {
                _ = try RuntimeConfiguration.load(path: path, source: .flag)
            }
        }
    }

    /// `scripts/runtime-config.sh` (`make runtime-config`) with its output; stdin closed.
    private func runtimeConfigScript(_ arguments: [String], path: String) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = [RepoPath.file("scripts/runtime-config.sh")] + arguments
        process.environment = ["PATH": path]
        let pipe = Foundation.Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    @Test func makeRuntimeConfigWritesAFileThatLoads() throws {
        let temp = try TemporaryDirectory(prefix: "/var/tmp/oci-config-")
        defer { temp.remove() }
        let build = temp.file("build")
        try Files.makeDirectories(build)
        try Files.writeAtomically(build + "/vmlinux", "kernel")
        // PATH without firecracker (only what the script and QEMU need): QEMU is chosen.
        let bin = temp.file("bin")
        try Files.makeDirectories(bin)
        for tool in ["python3", "dirname", "mkdir", "qemu-system-x86_64"] {
            let real = try #require(["/usr/bin/", "/bin/"].map { $0 + tool }.first { Files.exists($0) })
            try FileManager.default.createSymbolicLink(atPath: bin + "/" + tool, withDestinationPath: real)
        }

        let missing = try runtimeConfigScript(["--build-dir", build], path: bin)
        #expect(missing.status == 1)
        #expect(missing.output == "runtime-config.sh: no initramfs at \(build)/initramfs.cpio (run: make initramfs)\n")
        #expect(!Files.exists(build + "/config.json"))

        try Files.writeAtomically(build + "/initramfs.cpio", "cpio")
        let written = try runtimeConfigScript(["--build-dir", build], path: bin)
        #expect(written.status == 0, "\(written.output)")
        let configuration = try RuntimeConfiguration.load(path: build + "/config.json", source: .flag)
        #expect(configuration == RuntimeConfiguration(
            kernel: build + "/vmlinux", initramfs: build + "/initramfs.cpio", vmm: .qemu,
            qemuBinary: bin + "/qemu-system-x86_64", vcpus: 1, memoryMiB: 512, imageCache: build + "/images"))
        #expect(Files.isDirectory(build + "/images"))
        // The paths are relative to the file: the build directory can move.
        let text = try Files.readText(build + "/config.json")
        #expect(text.contains("\"kernel\": \"vmlinux\"") && text.contains("\"image_cache\": \"images\""))

        // Another output file: the paths are relative to its own directory.
        let elsewhere = try runtimeConfigScript(["--build-dir", build, "--out", temp.file("c.json")], path: bin)
        #expect(elsewhere.status == 0)
        let moved = try RuntimeConfiguration.load(path: temp.file("c.json"), source: .flag)
        #expect(moved.kernel == build + "/vmlinux" && moved.imageCache == build + "/images")
    }
}
