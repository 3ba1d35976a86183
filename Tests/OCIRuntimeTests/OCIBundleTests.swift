import LinuxSystem
@testable import OCIRuntime
import Testing
import TestSupport
import VsockProtocol

/// OCIBundle.load: what a good bundle becomes, and one line (with nothing written) for every bad one.
struct OCIBundleTests {
    @Test func validBundleLoadsWithUnknownFieldsIgnored() throws {
        let fixture = try BundleFixture()
        var spec = BundleFixture.validSpec()
        let resolv = try fixture.writeHostFile("resolv.conf", "nameserver 10.0.0.1\n")
        spec.mounts?.append(OCISpec.Mount(destination: "/etc/resolv.conf", type: "bind", source: resolv, options: ["rbind", "ro"]))
        try fixture.writeConfig(spec)

        let bundle = try OCIBundle.load(path: fixture.bundle)
        #expect(bundle.path == fixture.bundle)
        #expect(bundle.rootfs == fixture.rootfs)
        #expect(bundle.readonlyRoot)
        #expect(bundle.process == spec.process)
        #expect(bundle.spec.hostname == "box")
        #expect(bundle.spec.annotations == ["io.example": "1"])
        #expect(bundle.mounts == [
            .fileSystem(type: "proc", source: "proc", destination: "/proc", options: []),
            .fileSystem(type: "tmpfs", source: "tmpfs", destination: "/dev", options: ["nosuid", "mode=755"]),
            .fileSystem(type: "cgroup", source: "cgroup", destination: "/sys/fs/cgroup", options: ["ro"]),
            .copiedFile(source: resolv, destination: "/etc/resolv.conf", readonly: true),
        ])
        #expect(bundle.vmOptions == VMOptions(hostname: "box"))
    }

    @Test func bundleAndRootfsSymlinksAreResolved() throws {
        let fixture = try BundleFixture()
        try fixture.symlink(fixture.temp.path + "/link-to-bundle", to: fixture.bundle)
        try Files.makeDirectories(fixture.bundle + "/images/v1")
        var spec = BundleFixture.validSpec()
        spec.root = OCISpec.Root(path: "current")
        try fixture.symlink(fixture.bundle + "/current", to: "images/v1")
        try fixture.writeConfig(spec)

        let bundle = try OCIBundle.load(path: fixture.temp.path + "/link-to-bundle/")
        #expect(bundle.path == fixture.bundle)
        #expect(bundle.rootfs == fixture.bundle + "/images/v1")
        #expect(!bundle.readonlyRoot)
    }

    @Test func relativeBundlePathIsTakenFromTheCurrentDirectory() throws {
        let fixture = try BundleFixture()
        try fixture.writeConfig(BundleFixture.validSpec())
        let cwd = try #require(Files.readLink("/proc/self/cwd"))
        let up = String(repeating: "../", count: cwd.split(separator: "/").count)
        #expect(try OCIBundle.load(path: up + fixture.bundle.dropFirst()).path == fixture.bundle)
    }

    @Test func absoluteRootfsOutsideTheBundleIsAllowed() throws {
        // podman and CRI hand over an overlay mount point somewhere else.
        let fixture = try BundleFixture()
        var spec = BundleFixture.validSpec()
        spec.root = OCISpec.Root(path: fixture.host)
        try fixture.writeConfig(spec)
        #expect(try OCIBundle.load(path: fixture.bundle).rootfs == fixture.host)
    }

    @Test func copiedFileSourcesMayBeRelativeOrSymlinks() throws {
        let fixture = try BundleFixture()
        let hosts = try fixture.writeHostFile("hosts")
        try fixture.symlink(fixture.host + "/hosts-link", to: hosts)
        try Files.writeAtomically(fixture.bundle + "/hostname", "box\n")
        var spec = BundleFixture.validSpec()
        spec.mounts = [
            OCISpec.Mount(destination: "/etc/hosts", type: "none", source: fixture.host + "/hosts-link", options: ["bind"]),
            OCISpec.Mount(destination: "/etc/hostname", type: "bind", source: "hostname"),
        ]
        try fixture.writeConfig(spec)
        #expect(try OCIBundle.load(path: fixture.bundle).mounts == [
            .copiedFile(source: hosts, destination: "/etc/hosts", readonly: false),
            .copiedFile(source: fixture.bundle + "/hostname", destination: "/etc/hostname", readonly: false),
        ])
    }

    // MARK: - Bad bundles: one line, nothing written

    /// Loads the fixture's bundle, expecting exactly `message`, and checks the temporary tree is unchanged.
    private func expectBad(_ fixture: BundleFixture, _ code: OCIError.Code, _ message: String, path: String? = nil,
                           sourceLocation: SourceLocation = #_sourceLocation) {
        let before = fixture.snapshot()
        expectOCIError(code, message, sourceLocation: sourceLocation) { _ = try OCIBundle.load(path: path ?? fixture.bundle) }
        #expect(fixture.snapshot() == before, "loading wrote something", sourceLocation: sourceLocation)
    }

    @Test func missingBundleOrConfig() throws {
        let fixture = try BundleFixture()
        try fixture.writeConfig("{}")
        expectBad(fixture, .bundleNotFound, "bundle \"\(fixture.bundle)/config.json\" is not a directory", path: fixture.bundle + "/config.json")
        try Files.remove(fixture.bundle + "/config.json")
        expectBad(fixture, .bundleNotFound, "bundle \"\(fixture.temp.path)/nope\" does not exist", path: fixture.temp.path + "/nope")
        expectBad(fixture, .bundleNotFound, "bundle \"\(fixture.bundle)\" has no config.json")
    }

    @Test func invalidJSONNamesThePosition() throws {
        let fixture = try BundleFixture()
        try fixture.writeConfig("{\n  \"ociVersion\": \"1.0.2\",\n  \"process\": {\"args\": [\"sh\" \"x\"]}\n}\n")
        expectBad(fixture, .invalidJSON, "config.json: invalid JSON at line 3, column 29")
        // Go refuses a trailing comma, though JSONDecoder would take it.
        try fixture.writeConfig("{\"ociVersion\": \"1.0.2\", \"process\": {\"args\": [\"sh\",], \"cwd\": \"/\"}}")
        expectBad(fixture, .invalidJSON, "config.json: invalid JSON at line 1, column 51")
        try fixture.writeConfig("")
        expectBad(fixture, .invalidJSON, "config.json: invalid JSON at line 1, column 1")
        try fixture.writeConfig("{\"ociVersion\": \"1.0.2\"} x")
        expectBad(fixture, .invalidJSON, "config.json: invalid JSON at line 1, column 25")
    }

    @Test func wrongTypesNameTheField() throws {
        let fixture = try BundleFixture()
        try fixture.writeConfig(#"{"ociVersion": "1.0.2", "process": {"user": {"uid": "root"}}}"#)
        expectBad(fixture, .invalidJSON, "config.json: process.user.uid: expected a non-negative integer")
        try fixture.writeConfig(#"{"ociVersion": "1.0.2", "process": {"rlimits": [{"hard": 1, "soft": 1}]}}"#)
        expectBad(fixture, .invalidJSON, "config.json: process.rlimits[0].type is missing")
        try fixture.writeConfig("[]")
        expectBad(fixture, .invalidJSON, "config.json: top level: expected an object")
        try fixture.writeConfig(#"{"ociVersion": "1.0.2", "mounts": {}}"#)
        expectBad(fixture, .invalidJSON, "config.json: mounts: expected an array")
        try fixture.writeConfig(#"{"ociVersion": "1.0.2", "process": {"terminal": 1}}"#)
        expectBad(fixture, .invalidJSON, "config.json: process.terminal: expected a boolean")
        try fixture.writeConfig(#"{"ociVersion": "1.0.2", "process": {"args": null, "cwd": 5}}"#)
        expectBad(fixture, .invalidJSON, "config.json: process.cwd: expected a string")
    }

    @Test func ociVersionMajorMustBeOne() throws {
        let fixture = try BundleFixture()
        for (version, message) in [
            ("2.0.0", "unsupported ociVersion \"2.0.0\": only 1.x bundles are supported"),
            ("0.6.0", "unsupported ociVersion \"0.6.0\": only 1.x bundles are supported"),
            ("v1", "unsupported ociVersion \"v1\": only 1.x bundles are supported"),
        ] {
            var spec = BundleFixture.validSpec()
            spec.ociVersion = version
            try fixture.writeConfig(spec)
            expectBad(fixture, .unsupportedVersion, message)
        }
        var spec = BundleFixture.validSpec()
        spec.ociVersion = nil
        try fixture.writeConfig(spec)
        expectBad(fixture, .unsupportedVersion, "config.json has no ociVersion")
        for accepted in ["1.0.0", "1.1.0-rc.1", "1.2.1"] {
            spec.ociVersion = accepted
            try fixture.writeConfig(spec)
            _ = try OCIBundle.load(path: fixture.bundle)
        }
    }

    @Test func missingOrMisplacedRootfs() throws {
        let fixture = try BundleFixture()
        var spec = BundleFixture.validSpec()
        spec.root = nil
        try fixture.writeConfig(spec)
        expectBad(fixture, .invalidRootfs, "config.json has no root.path")

        spec.root = OCISpec.Root(path: "missing")
        try fixture.writeConfig(spec)
        expectBad(fixture, .invalidRootfs, "rootfs \(fixture.bundle)/missing (root.path \"missing\") does not exist")

        try Files.writeAtomically(fixture.bundle + "/file", "")
        spec.root = OCISpec.Root(path: "file")
        try fixture.writeConfig(spec)
        expectBad(fixture, .invalidRootfs, "rootfs \(fixture.bundle)/file (root.path \"file\") is not a directory")
    }

    @Test func relativeRootfsMayNotEscapeTheBundle() throws {
        let fixture = try BundleFixture()
        var spec = BundleFixture.validSpec()
        spec.root = OCISpec.Root(path: "../host")
        try fixture.writeConfig(spec)
        expectBad(fixture, .invalidRootfs, "root.path \"../host\" resolves to \(fixture.host), outside the bundle \(fixture.bundle)")

        spec.root = OCISpec.Root(path: "rootfs/../../host")
        try fixture.writeConfig(spec)
        expectBad(fixture, .invalidRootfs, "root.path \"rootfs/../../host\" resolves to \(fixture.host), outside the bundle \(fixture.bundle)")

        // A symlink inside the bundle pointing out, absolute or relative.
        try fixture.symlink(fixture.bundle + "/out", to: fixture.host)
        try fixture.symlink(fixture.bundle + "/out-relative", to: "../host")
        for link in ["out", "out-relative"] {
            spec.root = OCISpec.Root(path: link)
            try fixture.writeConfig(spec)
            expectBad(fixture, .invalidRootfs, "root.path \"\(link)\" resolves to \(fixture.host), outside the bundle \(fixture.bundle)")
        }

        // `..` after a symlink is the link target's parent, not the lexical one.
        try fixture.symlink(fixture.bundle + "/deep", to: fixture.host)
        try Files.makeDirectories(fixture.host + "/sub")
        spec.root = OCISpec.Root(path: "deep/sub/..")
        try fixture.writeConfig(spec)
        expectBad(fixture, .invalidRootfs, "root.path \"deep/sub/..\" resolves to \(fixture.host), outside the bundle \(fixture.bundle)")

        try fixture.symlink(fixture.bundle + "/loop", to: "loop")
        spec.root = OCISpec.Root(path: "loop")
        try fixture.writeConfig(spec)
        expectBad(fixture, .invalidRootfs, "root.path \"loop\": too many levels of symbolic links")
    }

    @Test func processMustBeRunnable() throws {
        let fixture = try BundleFixture()
        var spec = BundleFixture.validSpec()
        spec.process = nil
        try fixture.writeConfig(spec)
        expectBad(fixture, .invalidProcess, "config.json has no process")

        let cases: [((inout OCISpec.Process) -> Void, String)] = [
            ({ $0.args = [] }, "process.args must not be empty"),
            ({ $0.args = nil }, "process.args must not be empty"),
            ({ $0.cwd = "work" }, "process.cwd \"work\" is not an absolute path"),
            ({ $0.cwd = nil }, "process.cwd must not be empty"),
            ({ $0.rlimits = [OCISpec.Rlimit(type: "RLIMIT_BOGUS", hard: 1, soft: 1)] }, "process.rlimits: unknown type \"RLIMIT_BOGUS\""),
            ({ $0.capabilities = OCISpec.Capabilities(bounding: ["CAP_FLY"]) }, "process.capabilities.bounding: unknown capability \"CAP_FLY\""),
            ({ $0.oomScoreAdj = 1001 }, "process.oomScoreAdj 1001 is outside -1000…1000"),
        ]
        for (change, message) in cases {
            var process = try #require(BundleFixture.validSpec().process)
            change(&process)
            spec.process = process
            try fixture.writeConfig(spec)
            expectBad(fixture, .invalidProcess, message)
        }
    }

    @Test func mountsTheVMCannotHonourAreNamed() throws {
        let fixture = try BundleFixture()
        try Files.makeDirectories(fixture.host + "/data")
        _ = try fixture.writeHostFile("hosts")
        for (mount, message) in [
            (OCISpec.Mount(destination: "/data", type: "bind", source: fixture.host + "/data", options: ["rbind"]),
             "bind mount /data: host directory \(fixture.host)/data cannot be shared with the VM (only single files are copied in)"),
            (OCISpec.Mount(destination: "/data", type: "none", source: "../host/data", options: ["bind", "ro"]),
             "bind mount /data: source \"../host/data\" escapes the bundle"),
            (OCISpec.Mount(destination: "/etc/hosts", type: "bind", source: "rootfs/../../host/hosts"),
             "bind mount /etc/hosts: source \"rootfs/../../host/hosts\" escapes the bundle"),
            (OCISpec.Mount(destination: "/etc/hosts", type: "bind", source: fixture.host + "/missing"),
             "bind mount /etc/hosts: source \(fixture.host)/missing does not exist"),
            (OCISpec.Mount(destination: "/dev/null", type: "bind", source: "/dev/null"),
             "bind mount /dev/null: source /dev/null is not a regular file"),
            (OCISpec.Mount(destination: "/etc/hosts", type: "bind"), "bind mount /etc/hosts has no source"),
            (OCISpec.Mount(destination: "/merged", type: "overlay", source: "overlay"),
             "mount /merged has type \"overlay\", which the VM cannot mount (supported: bind mounts of files, cgroup, cgroup2, devpts, mqueue, proc, sysfs, tmpfs)"),
            (OCISpec.Mount(destination: "/x", source: "x"),
             "mount /x has no type, which the VM cannot mount (supported: bind mounts of files, cgroup, cgroup2, devpts, mqueue, proc, sysfs, tmpfs)"),
            (OCISpec.Mount(destination: "relative", type: "tmpfs"), "mount destination \"relative\" is not an absolute path"),
        ] {
            var spec = BundleFixture.validSpec()
            spec.mounts = [OCISpec.Mount(destination: "/proc", type: "proc", source: "proc"), mount]
            try fixture.writeConfig(spec)
            expectBad(fixture, .unsupportedMount, message)
        }
    }

    /// podman binds a host tmpfs on /dev/shm even for a private IPC namespace: the guest gets its own tmpfs there
    /// (with the mount's flags), and only when the IPC namespace is the container's own.
    @Test func podmansSharedMemoryDirectoryIsTheGuestsTmpfsInAPrivateIPCNamespace() throws {
        let fixture = try BundleFixture()
        try Files.makeDirectories(fixture.host + "/shm")
        let shm = OCISpec.Mount(destination: "/dev/shm", type: "bind", source: fixture.host + "/shm",
                                options: ["bind", "rprivate", "nosuid", "noexec", "nodev"])
        var spec = BundleFixture.validSpec()
        spec.mounts = [shm]
        spec.linux = OCISpec.Linux(namespaces: [OCISpec.Namespace(type: "pid"), OCISpec.Namespace(type: "ipc")])
        try fixture.writeConfig(spec)
        let bundle = try OCIBundle.load(path: fixture.bundle)
        #expect(bundle.mounts == [.fileSystem(type: "tmpfs", source: "shm", destination: "/dev/shm",
                                              options: ["rprivate", "nosuid", "noexec", "nodev", "mode=1777"])])

        let refusal = "bind mount /dev/shm: the IPC namespace is the host's or another container's, which a VM cannot share (use a private IPC namespace)"
        for namespaces in [[OCISpec.Namespace(type: "pid")],
                           [OCISpec.Namespace(type: "pid"), OCISpec.Namespace(type: "ipc", path: "/proc/42/ns/ipc")]] {
            spec.linux = OCISpec.Linux(namespaces: namespaces)
            try fixture.writeConfig(spec)
            expectBad(fixture, .unsupportedMount, refusal)
        }
        // Any other directory stays refused, even in a private IPC namespace.
        spec.linux = OCISpec.Linux(namespaces: [OCISpec.Namespace(type: "pid"), OCISpec.Namespace(type: "ipc")])
        spec.mounts = [OCISpec.Mount(destination: "/dev/mqueue", type: "bind", source: fixture.host + "/shm", options: ["bind"])]
        try fixture.writeConfig(spec)
        expectBad(fixture, .unsupportedMount,
                  "bind mount /dev/mqueue: host directory \(fixture.host)/shm cannot be shared with the VM (only single files are copied in)")
    }

    @Test func badVMOptionsFailTheLoad() throws {
        let fixture = try BundleFixture()
        var spec = BundleFixture.validSpec()
        spec.annotations = [VMOptions.Annotation.vcpus: "many"]
        try fixture.writeConfig(spec)
        expectBad(fixture, .unsupportedOption, "annotation org.fc-runtime.vcpus=\"many\" is not an integer in 1–32")
    }

    @Test func oneLineEvenWhenTheInputHasNewlines() throws {
        let fixture = try BundleFixture()
        var spec = BundleFixture.validSpec()
        spec.root = OCISpec.Root(path: "no\nsuch")
        try fixture.writeConfig(spec)
        expectBad(fixture, .invalidRootfs, "rootfs \(fixture.bundle)/no such (root.path \"no such\") does not exist")
    }
}

/// The syntax scan behind "invalid JSON at line L, column C".
struct JSONPositionTests {
    @Test func findsTheFirstError() {
        let cases: [(String, String?)] = [
            (#"{"a": [1, 2, {"b": null}], "c": "\u00e9\n", "d": -1.5e+3}"#, nil),
            ("{\"a\": tru}", "line 1, column 10"),
            ("{\"a\": 01}", "line 1, column 8"),
            ("{\"a\": \"x\ty\"}", "line 1, column 9"),
            ("{\"a\": \"\\q\"}", "line 1, column 9"),
            ("[1,\n2,\n]", "line 3, column 1"),
            ("{\"a\": 1,}", "line 1, column 9"),
            ("{\"a\" 1}", "line 1, column 6"),
            ("{\"a\": 1", "line 1, column 8"),
            ("  ", "line 1, column 3"),
        ]
        for (text, position) in cases {
            #expect(JSONPosition.firstError(in: Array(text.utf8)) == position, "\(text)")
        }
    }
}
