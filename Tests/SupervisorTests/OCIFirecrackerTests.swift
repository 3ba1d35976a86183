import Foundation
import Glibc
import TestSupport
import Testing

/// Issue 15's Firecracker path through the simulator: `create` from a bundle with `vmm: firecracker` in the
/// runtime configuration. The simulator checks every API request against the v1.16.1 spec, so this shows the
/// initramfs boot with the rootfs image attached read-only as a data drive, and a container id outside
/// Firecracker's `--id` alphabet. The simulated guest shares the host's devices, so its /dev/vda is not the image
/// (the container root itself is proven under QEMU, in E2ETests and `make test-oci`): vm-init's refusal must end
/// `create` with one line and leave nothing running or recorded.
@Suite(.serialized) struct OCIFirecrackerTests {
    @Test func createAttachesTheImageReadOnlyAndAGuestRefusalLeavesNothing() throws {
        let h = try SimulatorHarness()
        defer { h.cleanup() }
        let work = try TemporaryDirectory(prefix: "/var/tmp/fcoci-")
        defer { work.remove() }
        let bundle = work.file("bundle")
        try FileManager.default.createDirectory(atPath: bundle + "/rootfs/etc", withIntermediateDirectories: true)
        try Data("marker\n".utf8).write(to: URL(fileURLWithPath: bundle + "/rootfs/etc/marker"))
        try Data(#"{"ociVersion":"1.0.2","process":{"args":["sh"],"cwd":"/","env":["PATH=/bin"]},"root":{"path":"rootfs"}}"#.utf8)
            .write(to: URL(fileURLWithPath: bundle + "/config.json"))
        let config = work.file("config.json")
        let images = work.file("images")
        try Data("""
            {"kernel":"\(h.kernel)","initramfs":"\(h.kernel)","vmm":"firecracker","firecracker_binary":"\(h.simulator)",
             "image_cache":"\(images)"}
            """.utf8).write(to: URL(fileURLWithPath: config))
        let root = h.stateRoot
        let create = try ChildUnderTest(h.supervisor, ["--root", root, "--config", config, "create", "--bundle", bundle,
                                                       "--pid-file", work.file("pid"), "c_1.web"],
                                        environment: h.environment())
        let status = create.wait(timeout: 60)
        #expect(status == .exited(1), "\(create.stderr)")
        let lines = create.stderr.split(separator: "\n")
        #expect(lines.count == 1 && lines.first?.contains("create failed: mount root /dev/vda (ext4): ") == true,
                "\(create.stderr)")

        // The API saw the initramfs boot and the image as a read-only data drive, under a valid instance id.
        let requests = (FileContents.text(h.requestLog) ?? "").split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
        let drives = requests.filter { ($0["path"] as? String)?.hasPrefix("/drives/") == true }
        #expect(drives.count == 1, "\(drives)")
        let body = drives.first?["body"] as? [String: Any]
        #expect(body?["is_read_only"] as? Bool == true && body?["is_root_device"] as? Bool == false)
        let image = body?["path_on_host"] as? String ?? ""
        #expect(image.hasPrefix(images + "/") && image.hasSuffix(".ext4"), "\(image)")
        let boot = requests.first { $0["path"] as? String == "/boot-source" }?["body"] as? [String: Any]
        #expect(boot?["initrd_path"] as? String == h.kernel, "\(String(describing: boot))")
        let ids = Set(requests.compactMap { $0["id"] as? String })
        #expect(ids.count == 1 && ids.allSatisfy { $0.allSatisfy { $0.isLetter || $0.isNumber || $0 == "-" } }, "\(ids)")

        // Nothing left: no state, no pid file, no VMM or supervisor; the cache keeps only whole images.
        #expect(!FileManager.default.fileExists(atPath: root + "/c_1.web"))
        #expect(!FileManager.default.fileExists(atPath: work.file("pid")))
        #expect(processesMatching(root).isEmpty)
        let cached = (try? FileManager.default.contentsOfDirectory(atPath: images)) ?? []
        #expect(cached.allSatisfy { $0.hasSuffix(".ext4") }, "\(cached)")
    }
}
