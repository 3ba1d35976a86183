import Foundation

/// The media types this store reads (image-spec media-types.md and Docker's schema 2).
public enum MediaType {
    public static let ociManifest = "application/vnd.oci.image.manifest.v1+json"
    public static let ociIndex = "application/vnd.oci.image.index.v1+json"
    public static let dockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
    public static let dockerList = "application/vnd.docker.distribution.manifest.list.v2+json"
    /// Every manifest and index type, for the registry's `Accept` header.
    public static let acceptedManifests = [ociIndex, dockerList, ociManifest, dockerManifest]

    /// How a layer's bytes are compressed, from its media type.
    public static func compression(ofLayer type: String) throws(ImageError) -> Compression {
        switch type {
        case "application/vnd.oci.image.layer.v1.tar+gzip", "application/vnd.docker.image.rootfs.diff.tar.gzip",
             "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
             "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip":
            return .gzip
        case "application/vnd.oci.image.layer.v1.tar+zstd", "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd":
            return .zstd
        case "application/vnd.oci.image.layer.v1.tar", "application/vnd.oci.image.layer.nondistributable.v1.tar":
            return .none
        default:
            throw ImageError(.unsupported, "unsupported layer media type \(type.prefix(100))")
        }
    }
}

public enum Compression: String, Sendable { case none, gzip, zstd }

/// A content descriptor: what a manifest says about a blob it names.
public struct Descriptor: Codable, Sendable, Equatable {
    public var mediaType: String
    public var digest: Digest
    public var size: Int64
    public var platform: Platform?
    public var annotations: [String: String]?
}

public struct Platform: Codable, Sendable, Equatable {
    public var architecture: String
    public var os: String
    public var variant: String?
}

/// An image manifest (OCI or Docker schema 2: the same shape).
public struct Manifest: Codable, Sendable {
    public var schemaVersion: Int?
    public var mediaType: String?
    public var config: Descriptor
    public var layers: [Descriptor]
}

/// An image index or a Docker manifest list.
public struct ImageIndex: Codable, Sendable {
    public var schemaVersion: Int?
    public var mediaType: String?
    public var manifests: [Descriptor]
}

/// The image configuration: what a bundle's process comes from, and the uncompressed layer digests.
public struct ImageConfig: Codable, Sendable {
    public var architecture: String?
    public var os: String?
    public var config: Settings?
    public var rootfs: RootFS

    public struct Settings: Codable, Sendable {
        public var User: String?
        public var Env: [String]?
        public var Entrypoint: [String]?
        public var Cmd: [String]?
        public var WorkingDir: String?
        public var ExposedPorts: [String: EmptyObject]?
        public var Labels: [String: String]?
        public var StopSignal: String?
    }

    public struct RootFS: Codable, Sendable {
        public var type: String
        public var diff_ids: [Digest]
    }

    public struct EmptyObject: Codable, Sendable {}
}

enum ImageJSON {
    /// Decodes registry or cache JSON, with one line naming what failed.
    static func decode<T: Decodable>(_ type: T.Type, _ bytes: [UInt8], what: String) throws(ImageError) -> T {
        do { return try JSONDecoder().decode(T.self, from: Data(bytes)) } catch let error as ImageError {
            throw error
        } catch {
            throw ImageError(.invalidJSON, "\(what) is not valid: \(describe(error))")
        }
    }

    static func encode<T: Encodable>(_ value: T) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        // Encoding plain structs of strings and numbers cannot fail.
        return Array((try? encoder.encode(value)) ?? Data("{}".utf8)) + [0x0a]
    }

    private static func describe(_ error: any Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, let context):
            return "missing \(path(context.codingPath + [key]))"
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context):
            return "wrong type at \(path(context.codingPath))"
        case DecodingError.dataCorrupted(let context):
            if let underlying = context.underlyingError as? ImageError { return underlying.message }
            return context.codingPath.isEmpty ? "not JSON" : "bad value at \(path(context.codingPath))"
        default:
            return "\(error)"
        }
    }

    private static func path(_ keys: [any CodingKey]) -> String {
        keys.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
    }
}

/// Which manifest of an index this host runs (linux/amd64 by default).
public struct PlatformChoice: Sendable {
    public var os = "linux"
    public var architecture = "amd64"
    public init(os: String = "linux", architecture: String = "amd64") { self.os = os; self.architecture = architecture }

    public func pick(from index: ImageIndex) throws(ImageError) -> Descriptor {
        if let match = index.manifests.first(where: { $0.platform?.os == os && $0.platform?.architecture == architecture }) {
            return match
        }
        let offered = index.manifests.compactMap { d in d.platform.map { "\($0.os)/\($0.architecture)" } }
        throw ImageError(.noMatchingPlatform,
                         "no manifest for \(os)/\(architecture) (the index offers \(offered.isEmpty ? "none" : offered.joined(separator: ", ")))")
    }
}

extension ImageStore {
    /// Registry JSON decoded, or one line naming what is wrong with it.
    public static func decodeJSON<T: Decodable>(_ type: T.Type, _ bytes: [UInt8], what: String) throws(ImageError) -> T {
        try ImageJSON.decode(type, bytes, what: what)
    }
}

extension ImageStore {
    public static func encodeJSON<T: Encodable>(_ value: T) -> [UInt8] { ImageJSON.encode(value) }
}
