import Foundation
import Testing
@testable import VsockProtocol

/// `container`, `container_ready` and `exec.oom_score_adj` (PROTOCOL.md §4.2, §4.23, §4.24).
@Suite("Container messages")
struct ContainerMessageTests {
    private func decode(_ text: String) throws(ProtocolError) -> Message { try Message.decode(header: Array(text.utf8)) }

    private func refusal(_ text: String) -> ProtocolError? {
        do { _ = try decode(text); return nil } catch { return error }
    }

    @Test func containerRoundTripsWithTheContractsFieldNames() throws {
        let request = ContainerRequest(
            root: ContainerRoot(source: "/dev/vda", type: "ext4", options: ["ro"], writable: true),
            mounts: [ContainerMount(destination: "/proc", type: "proc", source: "proc", options: ["nosuid"])],
            files: [ContainerFile(path: "/etc/hosts", mode: 0o644, bytes: Array("127.0.0.1 localhost\n".utf8))],
            hostname: "c1", check: ContainerCheck(argv0: "sh", path: "/bin", cwd: "/"))
        let header = String(decoding: Message.container(request).encodedHeader(), as: UTF8.self)
        #expect(header == #"{"check":{"argv0":"sh","cwd":"/","path":"/bin"},"files":[{"data":"MTI3LjAuMC4xIGxvY2FsaG9zdAo=","mode":420,"path":"/etc/hosts"}],"hostname":"c1","mounts":[{"destination":"/proc","options":["nosuid"],"source":"proc","type":"proc"}],"root":{"options":["ro"],"source":"/dev/vda","type":"ext4","writable":true},"type":"container"}"#)
        #expect(try decode(header) == .container(request))
        #expect(request.files?.first?.decodedData == Array("127.0.0.1 localhost\n".utf8))
        #expect(ContainerFile(path: "/a", data: "*not base64*").decodedData == nil)

        let ready = Message.containerReady(ContainerReady(root: "/"))
        #expect(String(decoding: ready.encodedHeader(), as: UTF8.self) == #"{"root":"/","type":"container_ready"}"#)
        #expect(try decode(#"{"type":"container_ready"}"#) == .containerReady(ContainerReady()))
        #expect(ready.session == nil && ready.isControl && !ready.carriesPayload)
    }

    @Test func requiredFieldsAreRequired() {
        let missing = [
            #"{"type":"container"}"#,
            #"{"type":"container","root":{"source":"/dev/vda","type":"ext4"}}"#,
            #"{"type":"container","root":{"type":"ext4","writable":true}}"#,
            #"{"type":"container","root":{"source":"/dev/vda","type":"ext4","writable":true},"mounts":[{"type":"proc"}]}"#,
            #"{"type":"container","root":{"source":"/dev/vda","type":"ext4","writable":true},"files":[{"path":"/a"}]}"#,
            #"{"type":"container","root":{"source":"/dev/vda","type":"ext4","writable":true},"check":{"cwd":"/"}}"#,
            #"{"type":"container","root":{"source":"/dev/vda","type":"ext4","writable":"yes"}}"#,
        ]
        for text in missing {
            #expect(refusal(text)?.code == .invalidMessage, "\(text)")
        }
    }

    @Test func oomScoreAdjIsOptionalAndRangeChecked() throws {
        #expect(try decode(#"{"type":"exec","session":1,"argv":["sh"]}"#) == .exec(ExecRequest(session: 1, argv: ["sh"])))
        for value: Int32 in [-1000, 0, 1000] {
            let message = Message.exec(ExecRequest(session: 1, argv: ["sh"], oomScoreAdj: value))
            #expect(String(decoding: message.encodedHeader(), as: UTF8.self).contains("\"oom_score_adj\":\(value)"))
            #expect(try decode(String(decoding: message.encodedHeader(), as: UTF8.self)) == message)
        }
        for value in ["1001", "-1001", "2147483647", "4294967296"] {
            let error = refusal(#"{"type":"exec","session":5,"argv":["sh"],"oom_score_adj":"# + value + "}")
            #expect(error?.code == .invalidMessage, "\(value)")
            #expect(error?.session == 5, "\(value)")
        }
        // Existing exec headers are unchanged: the field is omitted when absent.
        #expect(!String(decoding: Message.exec(ExecRequest(session: 1, argv: ["x"])).encodedHeader(), as: UTF8.self)
                    .contains("oom"))
    }

    @Test func fileModesAboveSevenThousandSevenHundredSeventySevenOctalAreRefused() {
        let text = #"{"type":"container","root":{"source":"/r","type":"bind","writable":true},"files":[{"path":"/a","mode":4096,"data":""}]}"#
        #expect(refusal(text)?.code == .invalidMessage)
        let ok = #"{"type":"container","root":{"source":"/r","type":"bind","writable":true},"files":[{"path":"/a","mode":4095,"data":""}]}"#
        #expect(refusal(ok) == nil)
    }
}
