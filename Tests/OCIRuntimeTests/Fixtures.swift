import Foundation
import LinuxSystem
@testable import OCIRuntime
import Testing
import TestSupport

/// A bundle in a fresh temporary directory: `<temp>/bundle/{config.json,rootfs/}` and room for host files
/// beside it (`<temp>/host/…`), so "nothing written" can be checked over the whole directory.
final class BundleFixture {
    let temp: TemporaryDirectory
    var bundle: String { temp.path + "/bundle" }
    var rootfs: String { bundle + "/rootfs" }
    var host: String { temp.path + "/host" }

    init() throws {
        temp = try TemporaryDirectory(prefix: "/var/tmp/oci-test-")
        try Files.makeDirectories(rootfs)
        try Files.makeDirectories(host)
    }

    deinit { temp.remove() }

    func writeConfig(_ text: String) throws { try Files.writeAtomically(bundle + "/config.json", text) }

    /// `config.json` from `spec` with containerd-style fields this runtime ignores mixed in.
    func writeConfig(_ spec: OCISpec) throws {
        let encoded = try JSONEncoder().encode(spec)
        var object = try #require(try JSONSerialization.jsonObject(with: encoded) as? [String: Any])
        object["hooks"] = ["prestart": [["path": "/bin/true"]]]
        var linux = object["linux"] as? [String: Any] ?? [:]
        linux["seccomp"] = ["defaultAction": "SCMP_ACT_ERRNO", "syscalls": []]
        linux["maskedPaths"] = ["/proc/kcore"]
        object["linux"] = linux
        try Files.writeAtomically(bundle + "/config.json", Array(try JSONSerialization.data(withJSONObject: object)))
    }

    func writeHostFile(_ name: String, _ text: String = "x\n") throws -> String {
        let path = host + "/" + name
        try Files.writeAtomically(path, text)
        return path
    }

    func symlink(_ path: String, to target: String) throws {
        try FileManager.default.createSymbolicLink(atPath: path, withDestinationPath: target)
    }

    /// Every path under the temporary directory with its type and size: equal before and after means nothing
    /// was created, removed or rewritten to another length.
    func snapshot() -> [String] {
        var out: [String] = []
        func walk(_ directory: String) {
            for entry in (try? Directory.entries(directory)) ?? [] {
                let path = directory + "/" + entry.name
                let size = (try? Files.readAll(path))?.count ?? -1
                out.append("\(path) \(entry.kind) \(size)")
                if entry.kind == .directory { walk(path) }
            }
        }
        walk(temp.path)
        return out
    }

    /// A process and bundle every runtime accepts.
    static func validSpec() -> OCISpec {
        OCISpec(
            ociVersion: "1.0.2-dev",
            process: OCISpec.Process(
                terminal: false, user: OCISpec.User(uid: 1000, gid: 1000, additionalGids: [10, 20]),
                args: ["sh", "-c", "echo hi"], env: ["PATH=/usr/bin:/bin", "TERM=xterm"], cwd: "/work",
                capabilities: OCISpec.Capabilities(bounding: ["CAP_CHOWN", "CAP_KILL"], effective: ["CAP_KILL"]),
                rlimits: [OCISpec.Rlimit(type: "RLIMIT_NOFILE", hard: 1024, soft: 512)], noNewPrivileges: true),
            root: OCISpec.Root(path: "rootfs", readonly: true),
            hostname: "box",
            mounts: [
                OCISpec.Mount(destination: "/proc", type: "proc", source: "proc"),
                OCISpec.Mount(destination: "/dev", type: "tmpfs", source: "tmpfs", options: ["nosuid", "mode=755"]),
                OCISpec.Mount(destination: "/sys/fs/cgroup", type: "cgroup", source: "cgroup", options: ["ro"]),
            ],
            annotations: ["io.example": "1"])
    }
}

/// Runs `body`, which must throw an ``OCIError`` with exactly `code` and `message`, on one line.
func expectOCIError(_ code: OCIError.Code, _ message: String, sourceLocation: SourceLocation = #_sourceLocation,
                    _ body: () throws -> Void) {
    do {
        try body()
        Issue.record("expected \(code): \(message)", sourceLocation: sourceLocation)
    } catch let error as OCIError {
        #expect(error.code == code, sourceLocation: sourceLocation)
        #expect(error.message == message, sourceLocation: sourceLocation)
        #expect(!error.message.contains("\n"), sourceLocation: sourceLocation)
    } catch {
        Issue.record("expected an OCIError, got \(error)", sourceLocation: sourceLocation)
    }
}
