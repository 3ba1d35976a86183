/// An image reference as docker and skopeo read it: `[registry[:port]/]path[:tag][@sha256:…]`.
///
/// Rules (distribution's reference grammar): the first component is a registry when it has a `.` or a `:` or is
/// `localhost`; otherwise the registry is Docker Hub, whose one-component names live under `library/`. Path
/// components are lowercase alphanumerics joined by `.`, `_`, `__` or runs of `-`; a tag is `[A-Za-z0-9_]`
/// then up to 127 of `[A-Za-z0-9_.-]`; no tag and no digest means `latest`.
public struct Reference: Hashable, Sendable, CustomStringConvertible {
    /// As written in URLs: `registry-1.docker.io`, `127.0.0.1:5000`.
    public var registry: String
    /// The repository path: `library/busybox`, `team/app`.
    public var repository: String
    public var tag: String?
    public var digest: Digest?

    public static let dockerHub = "docker.io"
    public static let dockerHubEndpoint = "registry-1.docker.io"

    public init(parsing text: String) throws(ImageError) {
        func bad(_ why: String) -> ImageError {
            ImageError(.invalidReference, "invalid image reference \"\(text.prefix(120))\": \(why)")
        }
        guard !text.isEmpty else { throw bad("empty") }
        guard text.utf8.count <= 512 else { throw bad("longer than 512 bytes") }
        var rest = Substring(text)
        if let at = rest.firstIndex(of: "@") {
            digest = try Digest(parsing: String(rest[rest.index(after: at)...]))
            rest = rest[..<at]
        }
        var components = rest.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        if components.count > 1, let first = components.first,
           first.contains(".") || first.contains(":") || first == "localhost" {
            guard Self.validRegistry(first) else { throw bad("bad registry \"\(first)\"") }
            registry = first == Self.dockerHub || first == "index.docker.io" ? Self.dockerHubEndpoint : first
            components.removeFirst()
        } else {
            registry = Self.dockerHubEndpoint
        }
        guard var last = components.last else { throw bad("no repository") }
        if let colon = last.lastIndex(of: ":") {
            let tagText = String(last[last.index(after: colon)...])
            guard Self.validTag(tagText) else { throw bad("bad tag \"\(tagText)\"") }
            tag = tagText
            last = String(last[..<colon])
            components[components.count - 1] = last
        }
        for component in components where !Self.validComponent(component) {
            throw bad(component.isEmpty ? "empty path component" : "bad path component \"\(component)\" (lowercase letters, digits, . _ -)")
        }
        if registry == Self.dockerHubEndpoint && components.count == 1 { components.insert("library", at: 0) }
        repository = components.joined(separator: "/")
        guard repository.utf8.count <= 255 else { throw bad("repository longer than 255 bytes") }
        if tag == nil && digest == nil { tag = "latest" }
    }

    /// The canonical form: registry, repository, then `:tag` and/or `@digest`.
    public var description: String {
        var text = registry + "/" + repository
        if let tag { text += ":" + tag }
        if let digest { text += "@" + digest.description }
        return text
    }

    /// What a manifest is fetched by: the digest when there is one, else the tag.
    public var manifestSelector: String { digest?.description ?? tag ?? "latest" }

    /// Loopback registries are spoken to in plain HTTP (as docker does for `localhost`); all others in HTTPS.
    public var isLoopback: Bool {
        let host = registry.hasPrefix("[") ? String(registry.dropFirst().prefix { $0 != "]" }) : String(registry.prefix { $0 != ":" })
        return host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }

    static func validRegistry(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.allSatisfy { c in
            (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) || c == 0x2e || c == 0x2d
                || c == 0x3a || c == 0x5b || c == 0x5d
        }
    }

    static func validComponent(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard let first = bytes.first, let last = bytes.last, isAlnum(first), isAlnum(last) else { return false }
        var index = 0
        while index < bytes.count {
            let c = bytes[index]
            if isAlnum(c) { index += 1; continue }
            // A separator: ".", "_", "__" or one or more "-", always between alphanumerics.
            if c == 0x2d { while index < bytes.count && bytes[index] == 0x2d { index += 1 } }
            else if c == 0x5f { index += (index + 1 < bytes.count && bytes[index + 1] == 0x5f) ? 2 : 1 }
            else if c == 0x2e { index += 1 }
            else { return false }
            guard index < bytes.count, isAlnum(bytes[index]) else { return false }
        }
        return true
    }

    static func validTag(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard let first = bytes.first, bytes.count <= 128, isWord(first) else { return false }
        return bytes.allSatisfy { isWord($0) || $0 == 0x2e || $0 == 0x2d }
    }

    private static func isAlnum(_ c: UInt8) -> Bool { (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) }
    private static func isWord(_ c: UInt8) -> Bool { isAlnum(c) || (c >= 0x41 && c <= 0x5a) || c == 0x5f }
}
