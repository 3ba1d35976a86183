import LinuxSystem
@testable import OCIRuntime
import Testing
import VsockProtocol
import TestSupport

/// The state JSON byte for byte as runc prints it, and the RFC 3339 timestamps in it.
struct ContainerStateTests {
    private let created = Timestamp(nanosecondsSinceEpoch: 1_764_486_300_123_456_789)  // 2025-11-30T07:05:00.123456789Z

    @Test func stateMatchesRuncsMarshalIndent() {
        let state = ContainerState(ociVersion: "1.0.2", id: "c1", pid: 4242, status: .running, bundle: "/b",
                                   rootfs: "/b/rootfs", created: created, annotations: ["z": "1", "a": "2"])
        #expect(state.stateJSON == """
            {
              "ociVersion": "1.0.2",
              "id": "c1",
              "pid": 4242,
              "status": "running",
              "bundle": "/b",
              "rootfs": "/b/rootfs",
              "created": "2025-11-30T07:05:00.123456789Z",
              "annotations": {
                "a": "2",
                "z": "1"
              },
              "owner": ""
            }
            """)
    }

    @Test func emptyAnnotationsAreOmittedAndStoppedHasPidZero() {
        let state = ContainerState(id: "c1", pid: 4242, status: .stopped, bundle: "/b", rootfs: "/r", created: created)
        #expect(state.stateJSON == """
            {
              "ociVersion": "1.0.2",
              "id": "c1",
              "pid": 0,
              "status": "stopped",
              "bundle": "/b",
              "rootfs": "/r",
              "created": "2025-11-30T07:05:00.123456789Z",
              "owner": ""
            }
            """)
    }

    @Test func aStoppedContainerKeepsItsWholeExitStatus() {
        let oom = ExitStatus(signal: 9, oomKilled: true)
        var state = ContainerState(id: "c1", pid: 4242, status: .stopped, bundle: "/b", rootfs: "/r", created: created,
                                   exit: oom)
        #expect(state.stateJSON.hasSuffix("""
              "owner": "",
              "exit": {"status":137,"signal":9,"coreDumped":false,"oomKilled":true,"outputTruncated":false}
            }
            """))
        #expect(ContainerState.listJSON([state]).contains(#","owner":"","exit":{"status":137,"signal":9,"#))
        #expect(ContainerState.exitJSON(ExitStatus(code: 3, outputTruncated: true))
                == #"{"status":3,"code":3,"coreDumped":false,"oomKilled":false,"outputTruncated":true}"#)
        // Only a stopped container has one: runc's bytes otherwise.
        state.status = .running
        #expect(!state.stateJSON.contains("exit"))
    }

    @Test func listIsOneCompactLineOrNull() {
        #expect(ContainerState.listJSON([]) == "null\n")
        let a = ContainerState(id: "a", pid: 1, status: .created, bundle: "/b", rootfs: "/r",
                               created: Timestamp(nanosecondsSinceEpoch: 0), annotations: ["k": "v"], owner: "root")
        let b = ContainerState(id: "b", pid: 2, status: .paused, bundle: "/c", rootfs: "/s",
                               created: Timestamp(nanosecondsSinceEpoch: 1_500_000_000), owner: "#1000")
        #expect(ContainerState.listJSON([a, b]) == """
            [{"ociVersion":"1.0.2","id":"a","pid":1,"status":"created","bundle":"/b","rootfs":"/r",\
            "created":"1970-01-01T00:00:00Z","annotations":{"k":"v"},"owner":"root"},\
            {"ociVersion":"1.0.2","id":"b","pid":2,"status":"paused","bundle":"/c","rootfs":"/s",\
            "created":"1970-01-01T00:00:01.5Z","owner":"#1000"}]

            """)
    }

    @Test func stringsAreEscapedAsGoDoes() {
        #expect(GoJSON.string("a\"b\\c") == #""a\"b\\c""#)
        #expect(GoJSON.string("\n\r\t") == #""\n\r\t""#)
        #expect(GoJSON.string("\u{8}\u{c}\u{1}\u{1f}") == #""\u0008\u000c\u0001\u001f""#)
        #expect(GoJSON.string("<a&b>") == #""\u003ca\u0026b\u003e""#)
        #expect(GoJSON.string("\u{2028}\u{2029}é😀\u{7f}") == "\"\\u2028\\u2029é😀\u{7f}\"")
        // Map keys sort by bytes, so "B" < "a" < "é".
        let state = ContainerState(id: "c", pid: 1, status: .running, bundle: "/b", rootfs: "/r",
                                   created: Timestamp(nanosecondsSinceEpoch: 0), annotations: ["é": "1", "a": "2", "B": "3"])
        #expect(ContainerState.listJSON([state]).contains(#""annotations":{"B":"3","a":"2","é":"1"}"#))
    }

    @Test func timestampsPrintLikeGoRFC3339Nano() {
        let cases: [(Int64, String)] = [
            (0, "1970-01-01T00:00:00Z"),
            (1_000_000_000, "1970-01-01T00:00:01Z"),
            (1_100_000_000, "1970-01-01T00:00:01.1Z"),
            (1_000_000_010, "1970-01-01T00:00:01.00000001Z"),
            (951_782_400_000_000_000, "2000-02-29T00:00:00Z"),
            (4_102_444_799_999_999_999, "2099-12-31T23:59:59.999999999Z"),
            (-1, "1969-12-31T23:59:59.999999999Z"),
            (-86_400_000_000_000, "1969-12-31T00:00:00Z"),
        ]
        for (nanos, text) in cases {
            #expect(Timestamp(nanosecondsSinceEpoch: nanos).rfc3339Nano == text)
            #expect(Timestamp(rfc3339: text)?.nanosecondsSinceEpoch == nanos, "\(text)")
        }
    }

    @Test func timestampsParseOffsetsAndRefuseGarbage() {
        #expect(Timestamp(rfc3339: "1970-01-01T01:00:00+01:00")?.nanosecondsSinceEpoch == 0)
        #expect(Timestamp(rfc3339: "1969-12-31T23:30:00.5-00:30")?.nanosecondsSinceEpoch == 500_000_000)
        for bad in ["", "1970-01-01", "1970-01-01T00:00:00", "1970-13-01T00:00:00Z", "2001-02-29T00:00:00Z",
                    "1970-01-01T24:00:00Z", "1970-01-01T00:00:00.Z", "1970-01-01T00:00:00.1234567890Z",
                    "1970-01-01T00:00:00Zx", "1970-01-01T00:00:00+0100"] {
            #expect(Timestamp(rfc3339: bad) == nil, "\(bad)")
        }
        let now = Timestamp.now()
        #expect(Timestamp(rfc3339: now.rfc3339Nano) == now)
        #expect(now.rfc3339Nano.hasPrefix("20"))
    }
}
