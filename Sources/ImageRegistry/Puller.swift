import ImageStore
import LinuxSystem

/// `pull`: reference → manifest (through an index when it names one) → config → layers → unpacked tree → record.
public struct Puller {
    public var store: ImageStore
    public var platform: PlatformChoice
    public var plainHTTP: Bool?
    public var credentials: String?
    /// Progress lines (to stderr in the CLI).
    public var log: (String) -> Void

    public init(store: ImageStore, platform: PlatformChoice = PlatformChoice(), plainHTTP: Bool? = nil, credentials: String? = nil,
                log: @escaping (String) -> Void = { _ in }) {
        self.store = store; self.platform = platform; self.plainHTTP = plainHTTP; self.credentials = credentials; self.log = log
    }

    public struct Result: Sendable {
        public var record: ImageRecord
        public var rootfs: String
        public var downloadedBytes: Int64
        public var unpacked: Bool
    }

    public func pull(_ reference: Reference) async throws(ImageError) -> Result {
        // Shared: any number of pulls at once; rm and gc wait (they take it exclusively).
        let storeLock = try store.lock("store", shared: true)
        defer { storeLock.release() }
        let client = RegistryClient(reference: reference, plainHTTP: plainHTTP, credentials: credentials)
        do {
            let result = try await pull(reference, client: client)
            await client.shutdown()
            return result
        } catch {
            await client.shutdown()
            throw error
        }
    }

    private func pull(_ reference: Reference, client: RegistryClient) async throws(ImageError) -> Result {
        var (bytes, type, digest) = try await client.manifest(reference.manifestSelector)
        var indexDigest: Digest?
        if type == MediaType.ociIndex || type == MediaType.dockerList || (type.isEmpty && looksLikeIndex(bytes)) {
            let index = try decode(ImageIndex.self, bytes, "index \(digest)")
            let chosen = try platform.pick(from: index)
            try store.storeBlob(bytes, digest: digest, what: "index \(digest)")
            indexDigest = digest
            log("index \(digest): \(platform.os)/\(platform.architecture) is \(chosen.digest)")
            (bytes, type, digest) = try await client.manifest(chosen.digest.description)
        }
        guard type.isEmpty || type == MediaType.ociManifest || type == MediaType.dockerManifest else {
            throw ImageError(.unsupported, "manifest \(digest) has unsupported media type \(type.prefix(100))")
        }
        let manifest = try decode(Manifest.self, bytes, "manifest \(digest)")
        for layer in manifest.layers { _ = try MediaType.compression(ofLayer: layer.mediaType) }
        try store.storeBlob(bytes, digest: digest, what: "manifest \(digest)")

        try await client.fetchBlob(manifest.config, into: store, what: "config \(manifest.config.digest)")
        let config = try decode(ImageConfig.self, try store.readBlob(manifest.config.digest), "image config \(manifest.config.digest)")
        if let os = config.os, let arch = config.architecture, os != platform.os || arch != platform.architecture {
            throw ImageError(.noMatchingPlatform, "image \(reference) is for \(os)/\(arch), not \(platform.os)/\(platform.architecture)")
        }
        var downloaded: Int64 = 0
        for (number, layer) in manifest.layers.enumerated() {
            let what = "layer \(number + 1)/\(manifest.layers.count) \(layer.digest)"
            let bytes = try await client.fetchBlob(layer, into: store, what: what)
            downloaded += bytes
            log(bytes > 0 ? "\(what): \(bytes) bytes" : "\(what): cached")
        }
        let (rootfs, chain, made) = try store.unpack(layers: manifest.layers, diffIDs: config.rootfs.diff_ids)
        log(made ? "unpacked \(chain)" : "rootfs \(chain): cached")
        let record = ImageRecord(reference: reference.description, index: indexDigest, manifest: digest, config: manifest.config.digest,
                                 layers: manifest.layers.map(\.digest), chainID: chain, size: manifest.layers.reduce(0) { $0 + $1.size })
        try store.saveRecord(record, for: reference)
        return Result(record: record, rootfs: rootfs, downloadedBytes: downloaded, unpacked: made)
    }

    private func looksLikeIndex(_ bytes: [UInt8]) -> Bool {
        (try? ImageStore.decodeJSON(ImageIndex.self, bytes, what: "")) != nil && !bytes.isEmpty
            && (try? ImageStore.decodeJSON(Manifest.self, bytes, what: "")) == nil
    }

    private func decode<T: Decodable>(_ type: T.Type, _ bytes: [UInt8], _ what: String) throws(ImageError) -> T {
        try ImageStore.decodeJSON(type, bytes, what: what)
    }
}
