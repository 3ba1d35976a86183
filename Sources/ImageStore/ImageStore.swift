import Glibc
import LinuxSystem

/// The content-addressed image cache on disk.
///
/// Layout of `root` (0700):
///   `blobs/sha256/<hex>`        manifests, configs and compressed layers, each verified (size and digest) before
///                               it is renamed into place, so a name here always holds exactly its content;
///   `rootfs/<chain hex>/`       a layer stack unpacked, named by its chain id (image-spec config.md), renamed
///                               into place when every layer applied and matched its diff id;
///   `refs/<sha256 of ref>.json` a pulled reference: its manifest, config, layers and chain id (``ImageRecord``);
///   `locks/`                    `flock` files: `store.lock` (shared by pulls, exclusive for rm/gc, so gc never
///                               removes what a running pull has fetched but not yet recorded), `<hex>.lock` per
///                               blob or chain id (two pulls of one image download and unpack it once);
///   `.tmp-*` in blobs/sha256 and rootfs: work in progress, removed on failure, and by gc when their lock is free.
public struct ImageStore: Sendable {
    public static let defaultRoot = "/var/lib/fc-image"
    public let root: String

    public init(root: String = Self.defaultRoot) throws(ImageError) {
        self.root = root
        for directory in [root, root + "/blobs", blobDirectory, root + "/rootfs", root + "/refs", root + "/locks"] {
            do { try Files.makeDirectories(directory, mode: 0o700) } catch {
                throw ImageError(.io, "cannot create the image store \(directory): \(error.reason)", cause: error)
            }
        }
    }

    var blobDirectory: String { root + "/blobs/sha256" }
    public func blobPath(_ digest: Digest) -> String { blobDirectory + "/" + digest.hex }
    public func rootfsPath(_ chain: Digest) -> String { root + "/rootfs/" + chain.hex }
    public func hasBlob(_ digest: Digest) -> Bool { Files.exists(blobPath(digest)) }

    public func readBlob(_ digest: Digest, limit: Int = 4 << 20) throws(ImageError) -> [UInt8] {
        do { return try Files.readAll(blobPath(digest), limit: limit) } catch {
            throw ImageError(.io, "cannot read blob \(digest): \(error.reason)", cause: error)
        }
    }

    // MARK: locks

    /// A held `flock`; released by ``release()`` or when the process exits.
    public struct Lock: Sendable {
        let fd: FileDescriptor
        public func release() { fd.close() }
    }

    /// Waits for and takes the lock `name` (exclusive, or shared).
    public func lock(_ name: String, shared: Bool = false) throws(ImageError) -> Lock {
        let path = root + "/locks/" + name + ".lock"
        do throws(SystemError) {
            let fd = try FileDescriptor.open(path, flags: O_RDWR | O_CREAT | O_CLOEXEC, mode: 0o600)
            do throws(SystemError) { if shared { try fd.lockShared() } else { try fd.lockExclusive() } } catch { fd.close(); throw error }
            return Lock(fd: fd)
        } catch {
            throw ImageError(.io, "cannot lock \(path): \(error.reason)", cause: error)
        }
    }

    // MARK: blobs

    /// A temporary file beside the blob's final name, for a download in progress.
    public func temporaryBlob(_ digest: Digest) throws(ImageError) -> (fd: FileDescriptor, path: String) {
        do { return try Files.makeTemporaryFile(prefix: blobDirectory + "/.tmp-" + digest.hex + "-") } catch {
            throw ImageError(.io, "cannot create a temporary file in \(blobDirectory): \(error.reason)", cause: error)
        }
    }

    /// Verifies `temporary` against `digest` and `size` (the digest as the writer computed it), then renames it
    /// into place; on any mismatch it is removed and the error names what differed.
    public func commitBlob(temporary: String, digest: Digest, expectedSize: Int64?, actual: Digest, actualSize: Int64,
                           what: String) throws(ImageError) {
        do throws(ImageError) {
            if let expectedSize, expectedSize != actualSize {
                throw ImageError(.sizeMismatch, "\(what): expected \(expectedSize) bytes, got \(actualSize)")
            }
            guard actual == digest else {
                throw ImageError(.digestMismatch, "\(what): content has digest \(actual), expected \(digest)")
            }
            do { try Files.rename(temporary, to: blobPath(digest)) } catch {
                throw ImageError(.io, "cannot store \(what): \(error.reason)", cause: error)
            }
        } catch {
            try? Files.remove(temporary)
            throw error
        }
    }

    /// Stores small content (a manifest fetched whole) under its digest.
    public func storeBlob(_ bytes: [UInt8], digest: Digest, what: String) throws(ImageError) {
        if hasBlob(digest) { return }
        let (fd, path) = try temporaryBlob(digest)
        do { try fd.writeAll(bytes) } catch {
            fd.close(); try? Files.remove(path)
            throw ImageError(.io, "cannot write \(what): \(error.reason)", cause: error)
        }
        fd.close()
        try commitBlob(temporary: path, digest: digest, expectedSize: Int64(bytes.count),
                       actual: SHA256Hasher.digest(bytes), actualSize: Int64(bytes.count), what: what)
    }

    // MARK: rootfs

    /// The chain id of each prefix of `diffIDs` (image-spec: ChainID(L₀) = DiffID(L₀),
    /// ChainID(Lᵢ) = SHA256(ChainID(Lᵢ₋₁) + " " + DiffID(Lᵢ))); the last is the whole stack's.
    public static func chainIDs(_ diffIDs: [Digest]) -> [Digest] {
        var result: [Digest] = []
        for diff in diffIDs {
            guard let previous = result.last else { result.append(diff); continue }
            result.append(SHA256Hasher.digest(Array("\(previous) \(diff)".utf8)))
        }
        return result
    }

    /// The unpacked root of `layers` (compressed blobs already in the store, in order), made once per chain id:
    /// every layer is decompressed, its diff id checked against `diffIDs`, and applied; the tree appears under its
    /// final name only when all of that succeeded. Returns the path and whether it was made now.
    public func unpack(layers: [Descriptor], diffIDs: [Digest]) throws(ImageError) -> (path: String, chain: Digest, made: Bool) {
        guard layers.count == diffIDs.count, let chain = Self.chainIDs(diffIDs).last else {
            throw ImageError(.invalidJSON, "the image config lists \(diffIDs.count) diff ids for \(layers.count) layers")
        }
        let final = rootfsPath(chain)
        if Files.exists(final) { return (final, chain, false) }
        let lock = try lock(chain.hex)
        defer { lock.release() }
        if Files.exists(final) { return (final, chain, false) }
        let temporary: String
        do { temporary = try Files.makeTemporaryDirectory(prefix: root + "/rootfs/.tmp-" + chain.hex + "-") } catch {
            throw ImageError(.io, "cannot create a directory in \(root)/rootfs: \(error.reason)", cause: error)
        }
        do {
            try Files.changeMode(temporary, 0o755)
            let applier = LayerApplier(root: temporary)
            for (index, layer) in layers.enumerated() {
                let what = "layer \(index + 1)/\(layers.count) \(layer.digest)"
                let hashed = HashingSource(try decompressed(try FileSource(path: blobPath(layer.digest)),
                                                            compression: try MediaType.compression(ofLayer: layer.mediaType), what: what))
                try applier.apply(TarReader(hashed, what: what), what: what)
                let diff = hashed.hasher.finish()
                guard diff == diffIDs[index] else {
                    throw ImageError(.digestMismatch, "\(what): uncompressed content has digest \(diff), the config says \(diffIDs[index])")
                }
            }
            try Files.rename(temporary, to: final)
        } catch {
            try? Files.removeTree(temporary)
            if let error = error as? ImageError { throw error }
            let system = error as? SystemError
            throw ImageError(.io, "unpacking \(chain): \(system?.description ?? "\(error)")", cause: system)
        }
        return (final, chain, true)
    }
}
