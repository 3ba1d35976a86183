import ImageRegistry
import Testing

/// The `WWW-Authenticate` header → the token request's parameters.
struct ChallengeTests {
    @Test func dockerHubsBearerChallenge() {
        let (scheme, parameters) = RegistryClient.parseChallenge(
            #"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull""#)
        #expect(scheme == "bearer")
        #expect(parameters == ["realm": "https://auth.docker.io/token", "service": "registry.docker.io",
                               "scope": "repository:library/busybox:pull"])
    }

    @Test func unquotedValuesEscapesAndOtherSchemes() {
        let (scheme, parameters) = RegistryClient.parseChallenge(#"Bearer realm=http://127.0.0.1:1/token, error="a \"b\"""#)
        #expect(scheme == "bearer")
        #expect(parameters["realm"] == "http://127.0.0.1:1/token")
        #expect(parameters["error"] == #"a "b""#)
        #expect(RegistryClient.parseChallenge(#"Basic realm="x""#).scheme == "basic")
        #expect(RegistryClient.parseChallenge("").scheme == "")
        #expect(RegistryClient.parseChallenge("Negotiate").parameters.isEmpty)
    }
}
