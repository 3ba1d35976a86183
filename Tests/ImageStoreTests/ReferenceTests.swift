@testable import ImageStore
import Testing

struct ReferenceTests {
    @Test func dockerHubDefaults() throws {
        let r = try Reference(parsing: "busybox")
        #expect(r.registry == "registry-1.docker.io")
        #expect(r.repository == "library/busybox")
        #expect(r.tag == "latest")
        #expect(r.digest == nil)
        #expect(r.description == "registry-1.docker.io/library/busybox:latest")
        #expect(!r.isLoopback)
        #expect(try Reference(parsing: "docker.io/team/app:1.2").repository == "team/app")
    }

    @Test func registryPortTagAndDigest() throws {
        let hex = String(repeating: "ab", count: 32)
        let r = try Reference(parsing: "127.0.0.1:5000/team/app:v1.0-rc_2@sha256:\(hex)")
        #expect(r.registry == "127.0.0.1:5000")
        #expect(r.repository == "team/app")
        #expect(r.tag == "v1.0-rc_2")
        #expect(r.digest?.hex == hex)
        #expect(r.manifestSelector == "sha256:\(hex)")
        #expect(r.isLoopback)
        let local = try Reference(parsing: "localhost/x")
        #expect(local.registry == "localhost" && local.repository == "x" && local.isLoopback)
        // A first component without `.`/`:` that is not localhost is a path, and the name goes to Docker Hub.
        #expect(try Reference(parsing: "team/app").repository == "team/app")
        #expect(try Reference(parsing: "a.b/c__d.e-f---g").repository == "c__d.e-f---g")
    }

    @Test(arguments: ["", "Upper/case", "a:", "a//b", "-a", "a-", "a___b", "a:bad*tag", "a@sha1:abc",
                      "a@sha256:1234", "reg.io/", String(repeating: "a", count: 600)])
    func refused(_ text: String) {
        #expect(throws: ImageError.self) { try Reference(parsing: text) }
        do { _ = try Reference(parsing: text) } catch {
            #expect(error.code == .invalidReference || error.code == .unsupported)
            #expect(!error.message.contains("\n"))
        }
    }

    @Test func chainIDs() throws {
        let a = SHA256Hasher.digest(Array("a".utf8))
        let b = SHA256Hasher.digest(Array("b".utf8))
        #expect(a.description == "sha256:ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb")
        let chain = ImageStore.chainIDs([a, b])
        #expect(chain.count == 2)
        #expect(chain[0] == a)
        #expect(chain[1] == SHA256Hasher.digest(Array("\(a) \(b)".utf8)))
    }

    @Test func platformChoice() throws {
        func descriptor(_ arch: String) throws -> Descriptor {
            Descriptor(mediaType: MediaType.ociManifest, digest: SHA256Hasher.digest(Array(arch.utf8)), size: 1,
                       platform: Platform(architecture: arch, os: "linux"))
        }
        let index = ImageIndex(schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: [try descriptor("arm64"), try descriptor("amd64")])
        #expect(try PlatformChoice().pick(from: index).platform?.architecture == "amd64")
        let armOnly = ImageIndex(schemaVersion: 2, mediaType: nil, manifests: [try descriptor("arm64")])
        #expect {
            try PlatformChoice().pick(from: armOnly)
        } throws: { error in
            (error as? ImageError)?.message == "no manifest for linux/amd64 (the index offers linux/arm64)"
        }
    }
}
