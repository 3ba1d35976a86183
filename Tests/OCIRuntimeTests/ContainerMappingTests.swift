import LinuxSystem
@testable import OCIRuntime
import Testing
import VsockProtocol

/// bundle → vm-init's `container` request.
struct ContainerMappingTests {
    @Test func mountsFilesHostnameAndCheckMap() throws {
        let fixture = try BundleFixture()
        let resolv = try fixture.writeHostFile("resolv.conf", "nameserver 10.0.0.1\n")
        var spec = BundleFixture.validSpec()
        spec.mounts? += [
            OCISpec.Mount(destination: "/etc/resolv.conf", type: "bind", source: resolv, options: ["rbind", "ro"]),
            OCISpec.Mount(destination: "/etc/hostname", type: "none", source: try fixture.writeHostFile("hostname", "box\n"),
                          options: ["bind"]),
        ]
        try fixture.writeConfig(spec)
        let request = try OCIBundle.load(path: fixture.bundle).containerRequest()
        #expect(request.root == ContainerRoot(source: "/dev/vda", type: "ext4", options: ["ro"], writable: false))
        #expect(request.mounts == [
            ContainerMount(destination: "/proc", type: "proc", source: "proc"),
            ContainerMount(destination: "/dev", type: "tmpfs", source: "tmpfs", options: ["nosuid", "mode=755"]),
            ContainerMount(destination: "/sys/fs/cgroup", type: "cgroup", source: "cgroup", options: ["ro"]),
        ])
        #expect(request.files == [
            ContainerFile(path: "/etc/resolv.conf", mode: 0o444, bytes: Array("nameserver 10.0.0.1\n".utf8)),
            ContainerFile(path: "/etc/hostname", mode: 0o644, bytes: Array("box\n".utf8)),
        ])
        #expect(request.hostname == "box")
        #expect(request.check == ContainerCheck(argv0: "sh", path: "/usr/bin:/bin", cwd: "/work"))
    }

    @Test func aWritableRootAndNoMounts() throws {
        let fixture = try BundleFixture()
        var spec = BundleFixture.validSpec()
        spec.root?.readonly = nil
        spec.mounts = nil
        spec.hostname = nil
        spec.process?.env = ["HOME=/root"]
        try fixture.writeConfig(spec)
        let request = try OCIBundle.load(path: fixture.bundle).containerRequest(rootDevice: "/dev/vdb")
        #expect(request.root == ContainerRoot(source: "/dev/vdb", type: "ext4", options: ["ro"], writable: true))
        #expect(request.mounts == nil && request.files == nil && request.hostname == nil)
        // No PATH in the process's environment: vm-init decides, as runc's lookup does with an empty PATH.
        #expect(request.check == ContainerCheck(argv0: "sh", path: nil, cwd: "/work"))
    }

    @Test func copiedFilesMustFitInOneFrame() throws {
        let fixture = try BundleFixture()
        let big = try fixture.writeHostFile("big", String(repeating: "x", count: OCIBundle.maxCopiedBytes + 1))
        var spec = BundleFixture.validSpec()
        spec.mounts = [OCISpec.Mount(destination: "/etc/big", type: "bind", source: big, options: ["bind"])]
        try fixture.writeConfig(spec)
        let bundle = try OCIBundle.load(path: fixture.bundle)
        expectOCIError(.unsupportedMount, "bind mount /etc/big: the files copied into the VM exceed 32 KiB") {
            _ = try bundle.containerRequest()
        }
        // The request that does fit encodes within the default header limit, base64 and all.
        let fits = try fixture.writeHostFile("fits", String(repeating: "y", count: OCIBundle.maxCopiedBytes - 100))
        spec.mounts = [OCISpec.Mount(destination: "/etc/fits", type: "bind", source: fits, options: ["bind"])]
        try fixture.writeConfig(spec)
        let request = try OCIBundle.load(path: fixture.bundle).containerRequest()
        var bytes: [UInt8] = []
        Frame.encode(.container(request), into: &bytes)
        #expect(bytes.count - 8 <= Int(FrameLimits.default.maxHeaderBytes))
    }

    @Test func thePidsLimitBecomesTheContainersResourcesAndTheMemoryLimitTheVMsSize() throws {
        let fixture = try BundleFixture()
        var spec = BundleFixture.validSpec()
        spec.linux = OCISpec.Linux(resources: OCISpec.Resources(memory: OCISpec.Memory(limit: 67_108_864),
                                                                pids: OCISpec.Pids(limit: 2048)))
        try fixture.writeConfig(spec)
        let bundle = try OCIBundle.load(path: fixture.bundle)
        #expect(try bundle.containerRequest().resources == ContainerResources(pidsMax: 2048))
        // The memory limit plus 64 MiB of guest overhead is the VM's size.
        #expect(bundle.vmOptions.memoryMiB == 128)
        // runc's "unlimited" values send nothing.
        for pids in [Int64(0), -1, nil] {
            spec.linux = OCISpec.Linux(resources: OCISpec.Resources(memory: OCISpec.Memory(limit: 67_108_864),
                                                                    pids: pids.map { OCISpec.Pids(limit: $0) }))
            try fixture.writeConfig(spec)
            #expect(try OCIBundle.load(path: fixture.bundle).containerRequest().resources == nil, "\(pids ?? 0)")
        }
    }

    @Test func oomScoreAdjTravels() throws {
        var process = try #require(BundleFixture.validSpec().process)
        process.oomScoreAdj = -500
        #expect(try process.execRequest(session: 1).oomScoreAdj == -500)
    }
}
