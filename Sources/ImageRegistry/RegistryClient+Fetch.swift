import AsyncHTTPClient
import ImageStore
import LinuxSystem
import NIOCore

extension RegistryClient {
    /// The largest manifest or index accepted (distribution itself caps manifests at 4 MiB).
    static let maxManifestBytes = 4 << 20

    /// A manifest or index by tag or digest, with its media type and the digest of its bytes (checked against
    /// the digest asked for, and against `Docker-Content-Digest` when the registry sends one).
    func manifest(_ selector: String) async throws(ImageError) -> (bytes: [UInt8], mediaType: String, digest: Digest) {
        let what = "manifest \(reference.repository):\(selector)"
        let response = try await get("manifests/" + selector, accept: MediaType.acceptedManifests, what: what)
        let body: ByteBuffer
        do { body = try await response.body.collect(upTo: Self.maxManifestBytes) } catch {
            throw Self.networkError(error, what: what, registry: reference.registry)
        }
        guard response.status == .ok else {
            throw ImageError(response.status == .notFound ? .notFound : .registry,
                             "\(what): \(reference.registry) answered \(response.status.code) \(response.status.reasonPhrase)")
        }
        let bytes = Array(body.readableBytesView)
        let digest = SHA256Hasher.digest(bytes)
        if selector.hasPrefix("sha256:"), selector != digest.description {
            throw ImageError(.digestMismatch, "\(what): content has digest \(digest)")
        }
        if let header = response.headers.first(name: "Docker-Content-Digest"), header.hasPrefix("sha256:"), header != digest.description {
            throw ImageError(.digestMismatch, "\(what): content has digest \(digest), the registry says \(header)")
        }
        let type = response.headers.first(name: "Content-Type")?.split(separator: ";").first.map(String.init) ?? ""
        return (bytes, type, digest)
    }

    /// Downloads a blob into the store unless it is there: streamed into a temporary file beside its final name,
    /// hashed and counted on the way, refused the moment it runs past the descriptor's size, and renamed into
    /// place only when size and digest match. The blob's lock makes concurrent pulls download it once.
    /// Returns the bytes downloaded (0 on a hit).
    @discardableResult
    func fetchBlob(_ descriptor: Descriptor, into store: ImageStore, what: String) async throws(ImageError) -> Int64 {
        let lock = try store.lock(descriptor.digest.hex)
        defer { lock.release() }
        if store.hasBlob(descriptor.digest) { return 0 }
        let (fd, temporary) = try store.temporaryBlob(descriptor.digest)
        var open = true
        defer { if open { fd.close() } }
        do throws(ImageError) {
            let response = try await get("blobs/" + descriptor.digest.description, what: what)
            guard response.status == .ok else {
                throw ImageError(response.status == .notFound ? .notFound : .registry,
                                 "\(what): \(reference.registry) answered \(response.status.code) \(response.status.reasonPhrase)")
            }
            if let length = response.headers.first(name: "Content-Length").flatMap(Int64.init), length != descriptor.size {
                throw ImageError(.sizeMismatch, "\(what): the registry sends \(length) bytes, the manifest says \(descriptor.size)")
            }
            let hasher = SHA256Hasher()
            var count: Int64 = 0
            do {
                for try await chunk in response.body {
                    count += Int64(chunk.readableBytes)
                    guard count <= descriptor.size else {
                        throw ImageError(.sizeMismatch, "\(what): more than the \(descriptor.size) bytes the manifest says")
                    }
                    try chunk.withUnsafeReadableBytes { bytes in
                        hasher.update(bytes)
                        try fd.writeAll(bytes)
                    }
                }
            } catch let error as ImageError {
                throw error
            } catch let error as SystemError {
                throw ImageError(.io, "\(what): cannot write \(temporary): \(error.reason)", cause: error)
            } catch {
                throw Self.networkError(error, what: "\(what) after \(count) of \(descriptor.size) bytes", registry: reference.registry)
            }
            if count < descriptor.size {
                throw ImageError(.sizeMismatch, "\(what): truncated: \(count) of \(descriptor.size) bytes")
            }
            do { try fd.synchronize() } catch { throw ImageError(.io, "\(what): fsync: \(error.reason)", cause: error) }
            fd.close()
            open = false
            try store.commitBlob(temporary: temporary, digest: descriptor.digest, expectedSize: descriptor.size,
                                 actual: hasher.finish(), actualSize: count, what: what)
            return count
        } catch {
            try? Files.remove(temporary)
            throw error
        }
    }
}
