import AsyncHTTPClient
import Foundation
import ImageStore
import LinuxSystem
import NIOCore
import NIOHTTP1

/// One repository of one registry, spoken to with the distribution v2 API: HTTPS, or plain HTTP for loopback
/// registries (as docker treats `localhost`), anonymous or with a bearer token got from the `WWW-Authenticate`
/// challenge's realm (Docker Hub's and distribution's token flow). `FC_IMAGE_AUTH=user:password` is sent as
/// Basic credentials to the token endpoint (or to a registry that asks for Basic itself).
public final class RegistryClient: @unchecked Sendable {
    let reference: Reference
    let client: HTTPClient
    let base: String
    let credentials: String?
    /// The bearer token once a challenge was answered; reused for every later request of this pull.
    private var authorization: String?

    public init(reference: Reference, plainHTTP: Bool? = nil, credentials: String? = nil) {
        self.reference = reference
        let scheme = (plainHTTP ?? reference.isLoopback) ? "http" : "https"
        base = "\(scheme)://\(reference.registry)/v2/\(reference.repository)/"
        self.credentials = credentials
        var configuration = HTTPClient.Configuration(
            redirectConfiguration: .follow(max: 5, allowCycles: false),
            timeout: .init(connect: .seconds(10), read: .seconds(60)))
        configuration.httpVersion = .http1Only
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    public func shutdown() async { try? await client.shutdown() }

    /// GETs `path` (relative to the repository), answering one authentication challenge.
    func get(_ path: String, accept: [String] = [], what: String) async throws(ImageError) -> HTTPClientResponse {
        var response = try await request(path, accept: accept, what: what)
        if response.status == .unauthorized {
            let challenge = response.headers.first(name: "WWW-Authenticate") ?? ""
            _ = try? await response.body.collect(upTo: 1 << 20)
            try await authenticate(challenge: challenge)
            response = try await request(path, accept: accept, what: what)
            if response.status == .unauthorized {
                throw ImageError(.unauthorized, "\(what): \(reference.registry) refused the credentials (401 after authenticating)")
            }
        }
        return response
    }

    private func request(_ path: String, accept: [String], what: String) async throws(ImageError) -> HTTPClientResponse {
        var request = HTTPClientRequest(url: base + path)
        if !accept.isEmpty { request.headers.add(name: "Accept", value: accept.joined(separator: ", ")) }
        if let authorization { request.headers.add(name: "Authorization", value: authorization) }
        request.headers.add(name: "User-Agent", value: "fc-image/1")
        do { return try await client.execute(request, timeout: .hours(6)) } catch {
            throw Self.networkError(error, what: what, registry: reference.registry)
        }
    }

    /// The challenge's parameters (`Bearer realm="…",service="…",scope="…"`), then the token request.
    private func authenticate(challenge: String) async throws(ImageError) {
        let (scheme, parameters) = Self.parseChallenge(challenge)
        if scheme == "basic", let credentials {
            authorization = "Basic " + Data(credentials.utf8).base64EncodedString()
            return
        }
        guard scheme == "bearer", let realm = parameters["realm"], !realm.isEmpty else {
            let offered = challenge.isEmpty ? "no WWW-Authenticate challenge" : "challenge \"\(challenge.prefix(120))\""
            throw ImageError(.unauthorized,
                             "\(reference.registry) requires authentication (401) and offers no token endpoint (\(offered))")
        }
        var components = URLComponents(string: realm)
        var query = components?.queryItems ?? []
        if let service = parameters["service"] { query.append(URLQueryItem(name: "service", value: service)) }
        query.append(URLQueryItem(name: "scope", value: parameters["scope"] ?? "repository:\(reference.repository):pull"))
        components?.queryItems = query
        guard let url = components?.string else { throw ImageError(.registry, "bad token realm \(realm.prefix(120))") }
        var request = HTTPClientRequest(url: url)
        if let credentials { request.headers.add(name: "Authorization", value: "Basic " + Data(credentials.utf8).base64EncodedString()) }
        let body: ByteBuffer
        let status: HTTPResponseStatus
        do {
            let response = try await client.execute(request, timeout: .seconds(60))
            status = response.status
            body = try await response.body.collect(upTo: 1 << 20)
        } catch {
            throw Self.networkError(error, what: "token request to \(realm.prefix(120))", registry: reference.registry)
        }
        guard status == .ok else { throw ImageError(.unauthorized, "token endpoint \(realm.prefix(120)) answered \(status.code)") }
        struct TokenAnswer: Decodable { var token: String?; var access_token: String? }
        guard let answer = try? JSONDecoder().decode(TokenAnswer.self, from: Data(body.readableBytesView)),
              let token = answer.token ?? answer.access_token, !token.isEmpty else {
            throw ImageError(.unauthorized, "token endpoint \(realm.prefix(120)) gave no token")
        }
        authorization = "Bearer " + token
    }

    /// `Bearer realm="x",service="y"` → ("bearer", [realm: x, service: y]).
    public static func parseChallenge(_ text: String) -> (scheme: String, parameters: [String: String]) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard let space = trimmed.firstIndex(of: " ") else { return (trimmed.lowercased(), [:]) }
        let scheme = trimmed[..<space].lowercased()
        var parameters: [String: String] = [:]
        var rest = Substring(trimmed[trimmed.index(after: space)...])
        while !rest.isEmpty {
            rest = rest.drop { $0 == " " || $0 == "," }
            guard let equals = rest.firstIndex(of: "=") else { break }
            let key = rest[..<equals].trimmingCharacters(in: .whitespaces).lowercased()
            rest = rest[rest.index(after: equals)...]
            var value = ""
            if rest.first == "\"" {
                rest = rest.dropFirst()
                while let c = rest.first, c != "\"" {
                    if c == "\\" { rest = rest.dropFirst() }
                    if let d = rest.first { value.append(d); rest = rest.dropFirst() }
                }
                rest = rest.dropFirst()
            } else {
                value = String(rest.prefix { $0 != "," })
                rest = rest.dropFirst(value.count)
            }
            parameters[key] = value
        }
        return (scheme, parameters)
    }

    /// One line for a transport failure.
    static func networkError(_ error: any Error, what: String, registry: String) -> ImageError {
        if let error = error as? ImageError { return error }
        let reason: String
        switch error {
        case let e as HTTPClientError where e == .remoteConnectionClosed: reason = "the registry closed the connection"
        case let e as HTTPParserError where e == .invalidEOFState: reason = "the registry closed the connection mid-body"
        case let e as HTTPClientError where e == .readTimeout: reason = "no data for 60 s (read timeout)"
        case let e as HTTPClientError where e == .connectTimeout: reason = "connect timed out"
        case let e as HTTPClientError where e == .deadlineExceeded: reason = "the request took too long"
        case let e as HTTPClientError where e == .redirectLimitReached || e == .redirectCycleDetected: reason = "too many redirects"
        default: reason = "\(error)".replacingOccurrences(of: "\n", with: " ")
        }
        return ImageError(.network, "\(what): \(registry): \(reason)", cause: nil)
    }
}
