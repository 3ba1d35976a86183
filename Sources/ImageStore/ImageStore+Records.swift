import Glibc
import LinuxSystem

/// What a pull leaves in `refs/`: enough to list, bundle, and tell gc which blobs and trees are in use.
public struct ImageRecord: Codable, Sendable, Equatable {
    public var reference: String
    /// The index (or manifest list) the reference named, when it named one.
    public var index: Digest?
    public var manifest: Digest
    public var config: Digest
    public var layers: [Digest]
    public var chainID: Digest
    /// Compressed bytes of all layers.
    public var size: Int64

    public init(reference: String, index: Digest?, manifest: Digest, config: Digest, layers: [Digest], chainID: Digest, size: Int64) {
        self.reference = reference; self.index = index; self.manifest = manifest; self.config = config
        self.layers = layers; self.chainID = chainID; self.size = size
    }
}

extension ImageStore {
    func recordPath(_ reference: Reference) -> String {
        root + "/refs/" + SHA256Hasher.digest(Array(reference.description.utf8)).hex + ".json"
    }

    public func saveRecord(_ record: ImageRecord, for reference: Reference) throws(ImageError) {
        do { try Files.writeAtomically(recordPath(reference), ImageJSON.encode(record), mode: 0o600) } catch {
            throw ImageError(.io, "cannot record \(reference): \(error.reason)", cause: error)
        }
    }

    /// The record of a pulled reference; `notFound` when it was never pulled (or was removed).
    public func record(for reference: Reference) throws(ImageError) -> ImageRecord {
        let path = recordPath(reference)
        guard Files.exists(path) else { throw ImageError(.notFound, "image \(reference) is not in the store (pull it first)") }
        let bytes: [UInt8]
        do { bytes = try Files.readAll(path) } catch { throw ImageError(.io, "cannot read \(path): \(error.reason)", cause: error) }
        return try ImageJSON.decode(ImageRecord.self, bytes, what: path)
    }

    /// Every pulled reference, sorted by name.
    public func records() throws(ImageError) -> [ImageRecord] {
        let names: [String]
        do { names = try Directory.entries(root + "/refs").map(\.name).filter { $0.hasSuffix(".json") } } catch {
            throw ImageError(.io, "cannot list \(root)/refs: \(error.reason)", cause: error)
        }
        var result: [ImageRecord] = []
        for name in names {
            guard let bytes = try? Files.readAll(root + "/refs/" + name),
                  let record = try? ImageJSON.decode(ImageRecord.self, bytes, what: name) else { continue }
            result.append(record)
        }
        return result.sorted { $0.reference < $1.reference }
    }

    /// Forgets `reference`, then collects what no other reference uses.
    public func remove(_ reference: Reference) throws(ImageError) -> GarbageReport {
        let lock = try lock("store")
        defer { lock.release() }
        let path = recordPath(reference)
        guard Files.exists(path) else { throw ImageError(.notFound, "image \(reference) is not in the store") }
        do { try Files.remove(path) } catch { throw ImageError(.io, "cannot remove \(path): \(error.reason)", cause: error) }
        return try collectLocked()
    }

    public struct GarbageReport: Sendable, Equatable {
        public var blobs = 0
        public var trees = 0
        public var temporaries = 0
        public var bytes: Int64 = 0
    }

    /// Removes every blob and unpacked tree no record names, and work in progress nobody holds the lock of.
    public func collectGarbage() throws(ImageError) -> GarbageReport {
        let lock = try lock("store")
        defer { lock.release() }
        return try collectLocked()
    }

    private func collectLocked() throws(ImageError) -> GarbageReport {
        var liveBlobs: Set<String> = []
        var liveTrees: Set<String> = []
        for record in try records() {
            liveBlobs.formUnion([record.manifest.hex, record.config.hex] + record.layers.map(\.hex))
            if let index = record.index { liveBlobs.insert(index.hex) }
            liveTrees.insert(record.chainID.hex)
        }
        var report = GarbageReport()
        do {
            for entry in try Directory.entries(blobDirectory) {
                let path = blobDirectory + "/" + entry.name
                if entry.name.hasPrefix(".tmp-") {
                    guard try temporaryIsAbandoned(entry.name) else { continue }
                    report.temporaries += 1
                } else if liveBlobs.contains(entry.name) {
                    continue
                } else {
                    report.blobs += 1
                }
                report.bytes += (try? Files.status(path).size) ?? 0
                try Files.remove(path)
            }
            for entry in try Directory.entries(root + "/rootfs") {
                if entry.name.hasPrefix(".tmp-") {
                    guard try temporaryIsAbandoned(entry.name) else { continue }
                    report.temporaries += 1
                } else if liveTrees.contains(entry.name) {
                    continue
                } else {
                    report.trees += 1
                }
                try Files.removeTree(root + "/rootfs/" + entry.name)
            }
        } catch {
            throw ImageError(.io, "gc: \(error.description)", cause: error)
        }
        return report
    }

    /// `.tmp-<hex>-XXXXXX` is abandoned when the lock of `<hex>` is free (its writer died). Blob downloads and
    /// unpacks both hold `<hex>.lock` while their temporary exists.
    private func temporaryIsAbandoned(_ name: String) throws(SystemError) -> Bool {
        let hex = name.dropFirst(5).prefix(64)
        let fd = try FileDescriptor.open(root + "/locks/" + hex + ".lock", flags: O_RDWR | O_CREAT | O_CLOEXEC, mode: 0o600)
        defer { fd.close() }
        return try fd.tryLockExclusive()
    }
}
