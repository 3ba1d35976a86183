/// The one error type of the image layers (ImageStore, ImageRegistry, fc-image): a code a caller can branch on,
/// one line for the user, and the underlying error when there is one.
public struct ImageError: Error, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable {
        case invalidReference = "invalid_reference"
        case registry                      // an HTTP status or a protocol answer the client cannot use
        case unauthorized
        case network                       // connect, TLS, a dropped connection, a timeout
        case digestMismatch = "digest_mismatch"
        case sizeMismatch = "size_mismatch"
        case unsupported                   // a media type, compression or tar entry this store refuses
        case noMatchingPlatform = "no_matching_platform"
        case corruptLayer = "corrupt_layer" // gzip/zstd garbage, a broken tar stream
        case unsafeLayer = "unsafe_layer"  // a path or link that would leave the root
        case notFound = "not_found"
        case io                            // the local file system
        case invalidJSON = "invalid_json"
    }

    public var code: Code
    public var message: String
    public var cause: (any Error & Sendable)?

    public init(_ code: Code, _ message: String, cause: (any Error & Sendable)? = nil) {
        self.code = code
        self.message = message
        self.cause = cause
    }

    public var description: String { message }
}
