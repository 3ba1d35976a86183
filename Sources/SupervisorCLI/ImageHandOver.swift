import Glibc
import LinuxSystem

/// `fc-supervisor image …` is `fc-image …`: the image commands need an HTTP client (SwiftNIO, TLS), which would
/// add several MiB and start-up work to every `fc-supervisor` process, so they live in the `fc-image` executable
/// installed next to this one (Sources/fc-image/README.md has the numbers), and this execs it.
enum ImageHandOver {
    static func exec(_ arguments: [String]) -> Never {
        let directory = Files.currentExecutable().map { String($0[..<($0.lastIndex(of: "/") ?? $0.startIndex)]) } ?? "."
        let path = (directory.isEmpty ? "" : directory) + "/fc-image"
        let error = ProcessImage.replace(with: path, arguments: ["fc-image"] + arguments.dropFirst(2))
        let line = "fc-supervisor: image: cannot run \(path): \(error.reason) (install fc-image next to fc-supervisor)\n"
        try? FileDescriptor.standardError.writeAll(Array(line.utf8))
        Glibc.exit(127)
    }
}
