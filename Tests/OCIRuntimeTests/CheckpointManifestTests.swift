import Foundation
import Glibc
import LinuxSystem
@testable import OCIRuntime
import TestSupport
import Testing
import VMM

/// `manifest.json`: what a restore refuses before it starts anything, each with one line naming the problem.
@Suite struct CheckpointManifestTests {
    /// A checkpoint directory as `fc-supervisor checkpoint` leaves it (the VMM's files faked with their sizes).
    private func checkpoint(_ temp: TemporaryDirectory) throws -> (directory: String, vm: VMConfig) {
        let directory = temp.file("ckpt")
        try Files.makeDirectories(directory)
        let kernel = temp.file("vmlinux")
        try Files.writeAtomically(kernel, "kernel bytes")
        var vm = VMConfig(id: "c0")
        vm.vmm = .qemu
        vm.kernel = kernel
        vm.vcpus = 1
        vm.memoryMiB = 256
        try Files.writeAtomically(directory + "/memory", [UInt8](repeating: 7, count: 4096))
        let info = VMMSnapshotInfo(vmm: "qemu", version: "7.2.22", accelerator: "tcg", vcpus: 1, memoryMiB: 256,
                                   files: ["memory": 4096])
        try Files.writeAtomically(directory + "/vmm.json", Array(try JSONEncoder().encode(info)))
        let manifest = CheckpointManifest(vmm: info, kernelSHA256: try CheckpointManifest.sha256(file: kernel),
                                          imageDigest: "ab12", generation: 1, session: 1, id: "c0",
                                          files: ["memory": 4096])
        try manifest.write(directory: directory)
        return (directory, vm)
    }

    private func refusal(_ body: () throws -> Void) -> String {
        do { try body() } catch let error as OCIError { return error.message } catch { return "\(error)" }
        return "accepted"
    }

    @Test func aCompleteCheckpointIsAccepted() throws {
        let temp = try TemporaryDirectory(prefix: "/var/tmp/fcckpt-")
        defer { temp.remove() }
        let (directory, vm) = try checkpoint(temp)
        let manifest = try CheckpointManifest.load(directory: directory)
        #expect(manifest.formatVersion == 1 && manifest.vmm == "qemu" && manifest.vmmVersion == "7.2.22")
        #expect(refusal { try manifest.check(directory: directory, vm: vm, imageDigest: "ab12") } == "accepted")
    }

    @Test func sha256OfAFileMatchesTheNISTVector() throws {
        let temp = try TemporaryDirectory(prefix: "/var/tmp/fcckpt-")
        defer { temp.remove() }
        try Files.writeAtomically(temp.file("abc"), "abc")
        #expect(try CheckpointManifest.sha256(file: temp.file("abc"))
                == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    @Test func foreignOrBrokenDirectoriesAreRefusedByName() throws {
        let temp = try TemporaryDirectory(prefix: "/var/tmp/fcckpt-")
        defer { temp.remove() }
        let (directory, vm) = try checkpoint(temp)
        let manifest = try CheckpointManifest.load(directory: directory)

        #expect(refusal { _ = try CheckpointManifest.load(directory: temp.path) }.contains("manifest.json is missing"))
        var firecracker = vm
        firecracker.vmm = .firecracker
        #expect(refusal { try manifest.check(directory: directory, vm: firecracker, imageDigest: "ab12") }
                .contains("taken with qemu, the runtime is configured for firecracker"))
        #expect(refusal { try manifest.check(directory: directory, vm: vm, imageDigest: "cd34") }.contains("root file system differs"))
        var bigger = vm
        bigger.memoryMiB = 512
        #expect(refusal { try manifest.check(directory: directory, vm: bigger, imageDigest: "ab12") }.contains("256 MiB"))
        var otherKernel = vm
        otherKernel.kernel = temp.file("vmlinux2")
        try Files.writeAtomically(otherKernel.kernel, "another kernel")
        #expect(refusal { try manifest.check(directory: directory, vm: otherKernel, imageDigest: "ab12") }.contains("another kernel"))

        #expect(truncate(directory + "/memory", 100) == 0)
        #expect(refusal { try manifest.check(directory: directory, vm: vm, imageDigest: "ab12") }.contains("is 100 bytes"))
        try Files.remove(directory + "/memory")
        #expect(refusal { try manifest.check(directory: directory, vm: vm, imageDigest: "ab12") }.contains("memory is missing"))

        let text = try Files.readText(directory + "/manifest.json")
        try Files.writeAtomically(directory + "/manifest.json", text.replacing("\"format_version\" : 1", with: "\"format_version\" : 7"))
        let message = refusal { _ = try CheckpointManifest.load(directory: directory) }
        #expect(message.contains("format version 7") && message.contains("restores version 1"), "\(message)")
    }
}
