import Foundation
import Supervisor
import TestSupport
import Testing
@testable import SupervisorCLI

/// Issue 18: the per-VM supervisor's own log lines (`supervisor.log`) in runc's JSON with `--log-format json`,
/// logrus text otherwise; `lastLine` reads either back (it becomes `create`'s error).
struct SupervisorLogTests {
    @Test func jsonLinesAsRuncWritesThem() throws {
        let temp = try TemporaryDirectory(prefix: "/var/tmp/fc-svlog-")
        defer { temp.remove() }
        let directory = StateDirectory(root: temp.path, id: "c1")
        try FileManager.default.createDirectory(atPath: directory.path, withIntermediateDirectories: true)
        let log = SupervisorLog(directory, format: .json)
        log.write("vm-init has not answered a ping for 4000 ms: unresponsive")
        log.write("warning: guest sent \"x\"")
        let lines = (FileContents.text(directory.path + "/supervisor.log") ?? "").split(separator: "\n")
        #expect(lines.count == 2)
        let objects = lines.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: String] }
        #expect(objects.count == 2 && Set(objects[0].keys) == ["level", "msg", "time"], "\(lines)")
        #expect(objects.first?["level"] == "info" && objects.last?["level"] == "warning")
        #expect(objects.last?["msg"] == "warning: guest sent \"x\"")
        #expect(lines.first?.hasPrefix("{\"level\":\"info\",\"msg\":") == true, "keys in logrus' order: \(lines)")
        #expect(SupervisorLog.lastLine(directory) == "warning: guest sent \"x\"")
    }

    @Test func textStaysTheDefault() throws {
        let temp = try TemporaryDirectory(prefix: "/var/tmp/fc-svlog-")
        defer { temp.remove() }
        let directory = StateDirectory(root: temp.path, id: "c2")
        try FileManager.default.createDirectory(atPath: directory.path, withIntermediateDirectories: true)
        SupervisorLog(directory).write("booted")
        #expect(FileContents.text(directory.path + "/supervisor.log")?.contains(" level=info msg=booted") == true)
        #expect(SupervisorLog.lastLine(directory) == "booted")
    }
}
