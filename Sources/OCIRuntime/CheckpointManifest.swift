#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Glibc
import LinuxSystem
import VMM

/// `manifest.json` of a checkpoint directory: what a restore must match before it starts anything.
///
/// The directory holds the VMM's files (`memory`, Firecracker's `vmstate`) and `vmm.json` (``VMMSnapshotInfo``),
/// the supervisor's `workload.json` and this manifest, written last: a directory without one was never
/// completed. Disks: the container's root image is read-only (its writes live in a tmpfs overlay in guest RAM,
/// so in `memory`), referenced by its digest; a VM with a writable drive is not checkpointed.
public struct CheckpointManifest: Codable, Sendable, Equatable {
    /// Bumped on any change a reader must understand; a restore refuses every other value.
    public static let currentFormat = 1
    public static let fileName = "manifest.json"

    public var formatVersion: Int
    public var vmm: String
    public var vmmVersion: String
    /// SHA-256 of the kernel image the VM booted (a snapshot runs only on the kernel that is in its memory).
    public var kernelSHA256: String
    /// ``RootfsImage/digest`` of the container's root image.
    public var imageDigest: String
    public var vcpus: Int
    public var memoryMiB: Int
    public var generation: UInt64
    /// The workload's session in the guest.
    public var session: UInt32?
    /// The container id at checkpoint time.
    public var id: String
    public var createdUnixNs: Int64
    /// Every file of the checkpoint and its size.
    public var files: [String: UInt64]

    enum CodingKeys: String, CodingKey {
        case formatVersion = "format_version", vmm, vmmVersion = "vmm_version", kernelSHA256 = "kernel_sha256"
        case imageDigest = "image_digest", vcpus, memoryMiB = "memory_mib", generation, session, id
        case createdUnixNs = "created_unix_ns", files
    }

    public init(vmm: VMMSnapshotInfo, kernelSHA256: String, imageDigest: String, generation: UInt64, session: UInt32?,
                id: String, files: [String: UInt64]) {
        formatVersion = Self.currentFormat
        self.vmm = vmm.vmm; vmmVersion = vmm.version; self.kernelSHA256 = kernelSHA256; self.imageDigest = imageDigest
        vcpus = vmm.vcpus; memoryMiB = vmm.memoryMiB; self.generation = generation; self.session = session; self.id = id
        createdUnixNs = SystemControl.wallClockNanoseconds()
        self.files = files
    }

    /// Reads the manifest of `directory`; refuses a missing or foreign one by name.
    public static func load(directory: String) throws(OCIError) -> CheckpointManifest {
        let path = directory + "/" + fileName
        guard Files.exists(path) else {
            throw OCIError(.invalidCheckpoint, "\(directory) is not a checkpoint: \(fileName) is missing")
        }
        struct Version: Decodable { var formatVersion: Int?
            enum CodingKeys: String, CodingKey { case formatVersion = "format_version" } }
        let bytes: [UInt8]
        do { bytes = try Files.readAll(path, limit: 1 << 20) } catch {
            throw OCIError(.invalidCheckpoint, "cannot read \(path): \(error)", cause: error)
        }
        let version = (try? JSONDecoder().decode(Version.self, from: Data(bytes)))?.formatVersion
        guard version == currentFormat else {
            throw OCIError(.invalidCheckpoint, "\(path) has format version \(version.map(String.init) ?? "none"), "
                           + "this runtime restores version \(currentFormat)")
        }
        do { return try JSONDecoder().decode(CheckpointManifest.self, from: Data(bytes)) } catch {
            throw OCIError(.invalidCheckpoint, "\(path) is not a valid manifest: \(error)")
        }
    }

    /// Checks that the VM `vm` (with root image `imageDigest`) can honour this checkpoint: same VMM, kernel,
    /// image, size, and every file present at its recorded size. One line per refusal.
    public func check(directory: String, vm: VMConfig, imageDigest: String) throws(OCIError) {
        guard vmm == vm.vmm.rawValue else {
            throw OCIError(.invalidCheckpoint, "the checkpoint was taken with \(vmm), the runtime is configured for \(vm.vmm.rawValue)")
        }
        let kernel: String
        do { kernel = try Self.sha256(file: vm.kernel) } catch { throw error }
        guard kernel == kernelSHA256 else {
            throw OCIError(.invalidCheckpoint, "the checkpoint was taken on another kernel (sha256 \(kernelSHA256.prefix(12)), "
                           + "\(vm.kernel) is \(kernel.prefix(12)))")
        }
        guard imageDigest == self.imageDigest else {
            throw OCIError(.invalidCheckpoint, "the bundle's root file system differs from the checkpoint's "
                           + "(digest \(imageDigest.prefix(12)), checkpoint \(self.imageDigest.prefix(12)))")
        }
        guard vcpus == vm.vcpus, memoryMiB == vm.memoryMiB else {
            throw OCIError(.invalidCheckpoint, "the checkpoint is of a VM with \(vcpus) vCPUs and \(memoryMiB) MiB, "
                           + "the bundle asks for \(vm.vcpus) vCPUs and \(vm.memoryMiB) MiB")
        }
        for (name, size) in files.sorted(by: { $0.key < $1.key }) {
            let path = directory + "/" + name
            guard let actual = Files.size(path) else { throw OCIError(.invalidCheckpoint, "checkpoint file \(path) is missing") }
            guard actual == size else {
                throw OCIError(.invalidCheckpoint, "checkpoint file \(path) is \(actual) bytes, the manifest says \(size) (truncated?)")
            }
        }
        do { _ = try VMMSnapshotInfo.check(VMMSnapshotFiles(directory: directory), against: vm) } catch {
            throw OCIError(.invalidCheckpoint, error.message)
        }
    }

    /// Writes the manifest into `directory` (last: it is what makes the directory a checkpoint).
    public func write(directory: String) throws(OCIError) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        do {
            try Files.writeAtomically(directory + "/" + Self.fileName, Array(try encoder.encode(self)) + [10], mode: 0o600)
        } catch {
            throw OCIError(.invalidCheckpoint, "cannot write \(directory)/\(Self.fileName): \(error)")
        }
    }

    /// Lower-case hex SHA-256 of a file's bytes.
    public static func sha256(file path: String) throws(OCIError) -> String {
        var hasher = RootfsSHA256()
        do {
            let fd = try FileDescriptor.open(path, flags: O_RDONLY)
            defer { fd.close() }
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
            defer { buffer.deallocate() }
            while case .processed(let n) = try fd.readSome(into: buffer), n > 0 {
                hasher.update(UnsafeRawBufferPointer(rebasing: buffer[..<n]))
            }
        } catch {
            throw OCIError(.invalidCheckpoint, "cannot read \(path): \(error)", cause: error)
        }
        return hasher.hexDigest()
    }
}
