#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import LinuxSystem

/// The files of one VMM snapshot in a directory: what the VMM itself writes and reads back.
///
/// Firecracker writes `vmstate` (devices, vCPUs) and `memory` (guest RAM); QEMU's migration stream holds both in
/// `memory`. `vmm.json` (``VMMSnapshotInfo``) says which VMM, version and machine wrote them, so a restore can
/// refuse a snapshot its VMM cannot load before it starts anything.
public struct VMMSnapshotFiles: Sendable, Equatable {
    public let directory: String
    public init(directory: String) { self.directory = directory }

    public var state: String { directory + "/vmstate" }
    public var memory: String { directory + "/memory" }
    public var info: String { directory + "/vmm.json" }
}

/// What wrote a snapshot: checked against the restoring VMM before it is launched.
public struct VMMSnapshotInfo: Codable, Sendable, Equatable {
    public var vmm: String
    public var version: String
    /// QEMU only: "kvm" or "tcg" (a migration stream loads only into the same accelerator).
    public var accelerator: String?
    /// QEMU only: the `tsc_early_khz` the guest kernel was booted with (the command line must match).
    public var tscKHz: Int?
    public var vcpus: Int
    public var memoryMiB: Int
    /// The files and their sizes, so a truncated or missing one is refused before the VMM reads it.
    public var files: [String: UInt64]

    enum CodingKeys: String, CodingKey {
        case vmm, version, accelerator, tscKHz = "tsc_khz", vcpus, memoryMiB = "memory_mib", files
    }

    public init(vmm: String, version: String, accelerator: String? = nil, tscKHz: Int? = nil, vcpus: Int,
                memoryMiB: Int, files: [String: UInt64] = [:]) {
        self.vmm = vmm; self.version = version; self.accelerator = accelerator; self.tscKHz = tscKHz
        self.vcpus = vcpus; self.memoryMiB = memoryMiB; self.files = files
    }

    /// Records the sizes of `names` in `files` and writes `vmm.json`.
    func write(_ files: VMMSnapshotFiles, names: [String]) throws(VMMError) {
        var info = self
        for name in names {
            guard let size = Files.size(files.directory + "/" + name) else {
                throw VMMError(.requestFailed, "the VMM wrote no \(name) into \(files.directory)")
            }
            info.files[name] = size
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        do { try Files.writeAtomically(files.info, Array(try encoder.encode(info)) + [10], mode: 0o600) } catch {
            throw VMMError(.requestFailed, "cannot write \(files.info): \(error)", cause: error as? SystemError)
        }
    }

    /// Reads `vmm.json` and checks that every file it names is there at its recorded size and that `config`'s
    /// VMM and machine are the ones that wrote it. Every refusal is one line naming the problem.
    public static func check(_ files: VMMSnapshotFiles, against config: VMConfig) throws(VMMError) -> VMMSnapshotInfo {
        let info: VMMSnapshotInfo
        do {
            info = try JSONDecoder().decode(VMMSnapshotInfo.self, from: Data(try Files.readAll(files.info, limit: 64 << 10)))
        } catch {
            throw VMMError(.invalidConfiguration, "\(files.info) is missing or unreadable: \(error)")
        }
        guard info.vmm == config.vmm.rawValue else {
            throw VMMError(.invalidConfiguration, "the snapshot was taken by \(info.vmm), this VM runs \(config.vmm.rawValue)")
        }
        guard info.vcpus == config.vcpus, info.memoryMiB == config.memoryMiB else {
            throw VMMError(.invalidConfiguration, "the snapshot is of a VM with \(info.vcpus) vCPUs and \(info.memoryMiB) MiB, "
                           + "not \(config.vcpus) vCPUs and \(config.memoryMiB) MiB")
        }
        for (name, size) in info.files.sorted(by: { $0.key < $1.key }) {
            let path = files.directory + "/" + name
            guard let actual = Files.size(path) else { throw VMMError(.invalidConfiguration, "snapshot file \(path) is missing") }
            guard actual == size else {
                throw VMMError(.invalidConfiguration, "snapshot file \(path) is \(actual) bytes, \(size) were written (truncated or replaced)")
            }
        }
        return info
    }
}
