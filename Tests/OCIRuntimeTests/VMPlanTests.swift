import LinuxSystem
@testable import OCIRuntime
import Testing
import TestSupport
import VMM
import VsockProtocol

/// bundle + runtime configuration → the VM, its root image and the container request.
struct VMPlanTests {
    @Test func theImageIsTheOnlyDriveAndTheSecondPlanHitsTheCache() throws {
        let fixture = try BundleFixture()
        try Files.writeAtomically(fixture.rootfs + "/hello", "hi\n")
        var spec = BundleFixture.validSpec()
        spec.annotations = [VMOptions.Annotation.vcpus: "2"]
        try fixture.writeConfig(spec)
        let bundle = try OCIBundle.load(path: fixture.bundle)
        let configuration = RuntimeConfiguration(kernel: "/k", initramfs: "/i.cpio", vmm: .qemu,
                                                 imageCache: fixture.temp.path + "/images")
        let first = try VMPlan(bundle: bundle, configuration: configuration, id: "my_ctr.1", stateRoot: "/run/x")
        #expect(first.image.built)
        #expect(first.vm.extraDrives == [first.image.path] && first.vm.rootfs == nil)
        #expect(first.vm.initrd == "/i.cpio" && first.vm.kernel == "/k" && first.vm.vcpus == 2)
        #expect(first.vm.id == "my_ctr.1" && first.vm.stateRoot == "/run/x")
        #expect(FirecrackerIDsCheck.valid(first.vm.instanceID))
        #expect(first.container == (try bundle.containerRequest()))
        let second = try VMPlan(bundle: bundle, configuration: configuration, id: "other", stateRoot: "/run/x")
        #expect(!second.image.built && second.image.path == first.image.path)
    }

    @Test func aBadIDFailsBeforeAnyImageIsBuilt() throws {
        let fixture = try BundleFixture()
        try fixture.writeConfig(BundleFixture.validSpec())
        let bundle = try OCIBundle.load(path: fixture.bundle)
        let cache = fixture.temp.path + "/images"
        let configuration = RuntimeConfiguration(kernel: "/k", vmm: .qemu, imageCache: cache)
        #expect(throws: OCIError.self) {
            _ = try VMPlan(bundle: bundle, configuration: configuration, id: "a/b", stateRoot: "/run/x")
        }
        #expect(Directory.names(cache).isEmpty)
    }
}

/// Firecracker's `--id` rule, restated so the test does not trust the code under test.
enum FirecrackerIDsCheck {
    static func valid(_ id: String) -> Bool {
        (1...64).contains(id.utf8.count) && id.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }
    }
}
