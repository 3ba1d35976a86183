import OCIRuntime
import Testing
import VMM
import VsockProtocol

/// process → ExecRequest.
struct ProcessMappingTests {
    @Test func everyFieldMaps() throws {
        var process = try #require(BundleFixture.validSpec().process)
        process.user?.umask = 0o077
        process.terminal = true
        process.consoleSize = OCISpec.ConsoleSize(height: 40, width: 120)
        #expect(try process.execRequest(session: 7) == ExecRequest(
            session: 7, argv: ["sh", "-c", "echo hi"], env: ["PATH=/usr/bin:/bin", "TERM=xterm"], cwd: "/work",
            uid: 1000, gid: 1000, groups: [10, 20], umask: 0o077,
            rlimits: [ResourceLimit(resource: "nofile", soft: 512, hard: 1024)],
            capabilities: ["CAP_CHOWN", "CAP_KILL"], noNewPrivs: true, tty: TerminalSize(rows: 40, cols: 120)))
    }

    @Test func absentFieldsTakeRuncsDefaults() throws {
        let process = OCISpec.Process(args: ["true"], cwd: "/")
        let request = try process.execRequest(session: 1)
        #expect(request == ExecRequest(session: 1, argv: ["true"], env: [], cwd: "/", uid: 0, gid: 0, groups: [],
                                       umask: 0o022))
        // Absent capabilities keep the kernel's default; an empty bounding set drops them all.
        #expect(request.capabilities == nil)
        let none = OCISpec.Process(args: ["true"], cwd: "/", capabilities: OCISpec.Capabilities(effective: ["CAP_KILL"]))
        #expect(try none.execRequest(session: 1).capabilities == nil)
        let empty = OCISpec.Process(args: ["true"], cwd: "/", capabilities: OCISpec.Capabilities(bounding: []))
        #expect(try empty.execRequest(session: 1).capabilities == [])
    }

    @Test func terminalSizeDefaultsAndClamps() throws {
        var process = OCISpec.Process(terminal: true, args: ["sh"], cwd: "/")
        #expect(try process.execRequest(session: 1).tty == TerminalSize(rows: 24, cols: 80))
        process.consoleSize = OCISpec.ConsoleSize(height: 70_000, width: 100)
        #expect(try process.execRequest(session: 1).tty == TerminalSize(rows: 65_535, cols: 100))
        process.terminal = false
        #expect(try process.execRequest(session: 1).tty == nil)
    }

    @Test func everyRlimitTypeMapsAndBadOnesFail() throws {
        for name in ["AS", "CORE", "CPU", "DATA", "FSIZE", "LOCKS", "MEMLOCK", "MSGQUEUE", "NICE", "NOFILE", "NPROC",
                     "RSS", "RTPRIO", "RTTIME", "SIGPENDING", "STACK"] {
            let process = OCISpec.Process(args: ["true"], cwd: "/", rlimits: [OCISpec.Rlimit(type: "RLIMIT_" + name, hard: 9, soft: 8)])
            #expect(try process.execRequest(session: 1).rlimits == [ResourceLimit(resource: name.lowercased(), soft: 8, hard: 9)])
        }
        for (limit, message) in [
            (OCISpec.Rlimit(type: "NOFILE", hard: 1, soft: 1), "process.rlimits: unknown type \"NOFILE\""),
            (OCISpec.Rlimit(type: "RLIMIT_NOFILE", hard: 1, soft: 2), "process.rlimits: RLIMIT_NOFILE soft limit 2 is above its hard limit 1"),
        ] {
            let process = OCISpec.Process(args: ["true"], cwd: "/", rlimits: [limit])
            expectOCIError(.invalidProcess, message) { _ = try process.execRequest(session: 1) }
        }
    }
}

/// linux.resources, annotations and namespaces → VM options, and onto a VMConfig.
struct VMOptionsTests {
    private func options(cpu: OCISpec.CPU? = nil, memory: Int64? = nil, annotations: [String: String]? = nil,
                         namespaces: [OCISpec.Namespace]? = nil) throws -> VMOptions {
        try VMOptions(spec: OCISpec(annotations: annotations, linux: OCISpec.Linux(
            resources: OCISpec.Resources(memory: memory.map { OCISpec.Memory(limit: $0) }, cpu: cpu), namespaces: namespaces)))
    }

    @Test func vcpusFromQuotaRoundUp() throws {
        #expect(try VMSizing.vcpus(OCISpec.CPU(quota: 200_000, period: 100_000)) == 2)
        #expect(try VMSizing.vcpus(OCISpec.CPU(quota: 150_000, period: 100_000)) == 2)
        #expect(try VMSizing.vcpus(OCISpec.CPU(quota: 200_001, period: 100_000)) == 3)
        #expect(try VMSizing.vcpus(OCISpec.CPU(quota: 50_000, period: 100_000)) == 1)
        #expect(try VMSizing.vcpus(OCISpec.CPU(quota: 1, period: 1_000_000)) == 1)
        // No period: the kernel's 100 ms.
        #expect(try VMSizing.vcpus(OCISpec.CPU(quota: 300_000)) == 3)
        #expect(try VMSizing.vcpus(OCISpec.CPU(quota: 300_000, period: 0)) == 3)
        // Unlimited or absent: nothing to say.
        #expect(try VMSizing.vcpus(OCISpec.CPU(quota: -1, period: 100_000)) == nil)
        #expect(try VMSizing.vcpus(OCISpec.CPU(period: 100_000)) == nil)
        #expect(try VMSizing.vcpus(OCISpec.CPU(cpus: "")) == nil)
        // Capped at VMConfig's limit.
        #expect(try VMSizing.vcpus(OCISpec.CPU(quota: 100_000_000, period: 100_000)) == 32)
    }

    @Test func vcpusFromCpusetAndTheSmallerOfBoth() throws {
        #expect(try VMSizing.cpusetCount("0-3,6,8-9") == 7)
        #expect(try VMSizing.cpusetCount("0-3, 2-5") == 6)
        #expect(try VMSizing.cpusetCount("5") == 1)
        #expect(try VMSizing.vcpus(OCISpec.CPU(cpus: "0-127")) == 32)
        #expect(try VMSizing.vcpus(OCISpec.CPU(quota: 400_000, period: 100_000, cpus: "0-1")) == 2)
        #expect(try VMSizing.vcpus(OCISpec.CPU(quota: 100_000, period: 100_000, cpus: "0-7")) == 1)
        for bad in ["a", "3-1", "1,,2", "-1", "0-", "1-2-3"] {
            expectOCIError(.unsupportedOption, "linux.resources.cpu.cpus \"\(bad)\" is not a CPU list such as 0-3,6") {
                _ = try VMSizing.vcpus(OCISpec.CPU(cpus: bad))
            }
        }
    }

    @Test func memoryRoundsUpAddsOverheadAndHasAFloor() {
        let mib: Int64 = 1 << 20
        #expect(VMSizing.memoryMiB(limit: 512 * mib) == 576)
        #expect(VMSizing.memoryMiB(limit: 512 * mib + 1) == 577)
        #expect(VMSizing.memoryMiB(limit: 512 * mib - 1) == 576)
        #expect(VMSizing.memoryMiB(limit: 1) == 128)
        #expect(VMSizing.memoryMiB(limit: 64 * mib) == 128)
        #expect(VMSizing.memoryMiB(limit: 65 * mib) == 129)
        #expect(VMSizing.memoryMiB(limit: -1) == nil)
        #expect(VMSizing.memoryMiB(limit: 0) == nil)
    }

    @Test func annotationsBeatResources() throws {
        let fromResources = try options(cpu: OCISpec.CPU(quota: 200_000, period: 100_000), memory: 256 << 20)
        #expect(fromResources == VMOptions(vcpus: 2, memoryMiB: 320))
        let annotated = try options(cpu: OCISpec.CPU(quota: 200_000, period: 100_000), memory: 256 << 20, annotations: [
            "org.fc-runtime.vcpus": "4", "org.fc-runtime.memory-mib": "1024", "org.fc-runtime.kernel": "/boot/vmlinux",
            "org.fc-runtime.vmm": "qemu", "io.other": "ignored",
        ])
        #expect(annotated == VMOptions(vcpus: 4, memoryMiB: 1024, kernel: "/boot/vmlinux", vmm: .qemu))
        #expect(try options() == VMOptions())
    }

    @Test func badAnnotationsAreRefused() {
        let cases = [
            (["org.fc-runtime.vcpus": "0"], "annotation org.fc-runtime.vcpus=\"0\" is not an integer in 1–32"),
            (["org.fc-runtime.vcpus": "33"], "annotation org.fc-runtime.vcpus=\"33\" is not an integer in 1–32"),
            (["org.fc-runtime.memory-mib": "8"], "annotation org.fc-runtime.memory-mib=\"8\" is not an integer in 16–16777216"),
            (["org.fc-runtime.kernel": "vmlinux"], "annotation org.fc-runtime.kernel=\"vmlinux\" is not an absolute path"),
            (["org.fc-runtime.vmm": "kvmtool"], "annotation org.fc-runtime.vmm=\"kvmtool\" is not one of firecracker, qemu"),
            (["org.fc-runtime.vcpu": "2"],
             "unknown annotation \"org.fc-runtime.vcpu\" (known: org.fc-runtime.kernel, org.fc-runtime.memory-mib, org.fc-runtime.vcpus, org.fc-runtime.vmm)"),
        ]
        for (annotations, message) in cases {
            expectOCIError(.unsupportedOption, message) { _ = try options(annotations: annotations) }
        }
    }

    @Test func networkNamespacePathNamesTheTapNamespace() throws {
        #expect(try options(namespaces: [OCISpec.Namespace(type: "pid"), OCISpec.Namespace(type: "network", path: "/run/netns/cni-1234")]).netns == "cni-1234")
        #expect(try options(namespaces: [pid, OCISpec.Namespace(type: "network", path: "/var/run/netns/netns_a")]).netns == "netns_a")
        // A new namespace (no path), or none at all: the VM is the isolation.
        #expect(try options(namespaces: [pid, OCISpec.Namespace(type: "network")]).netns == nil)
        #expect(try options(namespaces: [pid, OCISpec.Namespace(type: "mount", path: "/proc/1/ns/mnt")]).netns == nil)
        for path in ["/proc/42/ns/net", "/run/netns/a/b", "/run/netns/"] {
            expectOCIError(.unsupportedOption,
                           "network namespace \"\(path)\" is not /run/netns/NAME (NAME: letters, digits, '-', '_'); the TAP can only be placed in a named namespace") {
                _ = try options(namespaces: [pid, OCISpec.Namespace(type: "network", path: path)])
            }
        }
    }

    private let pid = OCISpec.Namespace(type: "pid")

    /// The workload always runs in the VM's own PID namespace: sharing the host's (podman `--pid host` leaves
    /// `pid` out of the list) or joining another's is refused; a spec without a namespace list is accepted.
    @Test func pidNamespaceMustBeANewOne() throws {
        #expect(try options(namespaces: [pid]).netns == nil)
        #expect(try options(namespaces: nil).netns == nil)
        expectOCIError(.unsupportedOption,
                       "linux.namespaces has no pid namespace: the host's PID namespace cannot be shared with a VM (the workload runs in the VM's own)") {
            _ = try options(namespaces: [OCISpec.Namespace(type: "ipc"), OCISpec.Namespace(type: "network")])
        }
        expectOCIError(.unsupportedOption,
                       "pid namespace \"/proc/42/ns/pid\": another process's PID namespace cannot be joined from a VM (the workload runs in the VM's own)") {
            _ = try options(namespaces: [OCISpec.Namespace(type: "pid", path: "/proc/42/ns/pid")])
        }
    }

    @Test func applyFillsOnlyWhatTheBundleSays() throws {
        var config = VMConfig(id: "vm1")
        config.kernel = "/default/vmlinux"
        config.vcpus = 3
        config.memoryMiB = 700
        config.vmm = .firecracker
        let untouched = config
        VMOptions().apply(to: &config)
        #expect(config.kernel == untouched.kernel && config.vcpus == 3 && config.memoryMiB == 700 && config.vmm == .firecracker)
        #expect(config.network == untouched.network)

        VMOptions(memoryMiB: 320).apply(to: &config)
        #expect(config.memoryMiB == 320 && config.vcpus == 3 && config.kernel == "/default/vmlinux")

        config.jailer = JailerConfig(jailerBin: "/usr/bin/jailer", uid: 1, gid: 1)
        VMOptions(vcpus: 2, kernel: "/k", vmm: .qemu, netns: "cni-1").apply(to: &config)
        #expect(config.vcpus == 2 && config.kernel == "/k" && config.vmm == .qemu)
        #expect(config.network.netns == "cni-1")
        #expect(config.jailer?.netns == "/run/netns/cni-1")
        try config.validate()
    }

    @Test func hostnameNeedsATap() throws {
        var config = VMConfig(id: "vm1")
        config.kernel = "/k"
        VMOptions(hostname: "box").apply(to: &config)
        #expect(config.network.guestHostname == nil)
        try config.validate()
        config.tap = "tap0"
        VMOptions(hostname: "box").apply(to: &config)
        #expect(config.network.guestHostname == "box")
        try config.validate()
    }
}
