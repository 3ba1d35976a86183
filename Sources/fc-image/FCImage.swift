import ArgumentParser
import Glibc
import ImageRegistry
import ImageStore
import LinuxSystem

/// `fc-image` (also `fc-supervisor image …`, which execs this binary): pulls OCI images from a registry into the
/// content-addressed store and makes runtime bundles from them. It is its own executable so that fc-supervisor
/// does not link SwiftNIO and AsyncHTTPClient (Sources/fc-image/README.md has the measurements).
@main
struct FCImage: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fc-image",
        abstract: "Pull OCI images into a local store and make runtime bundles from them.",
        subcommands: [Pull.self, List.self, Remove.self, GC.self, BundleCommand.self])
}

struct StoreOptions: ParsableArguments {
    @Option(name: .long, help: "The image store (default: $FC_IMAGE_ROOT, else \(ImageStore.defaultRoot)).")
    var root: String?

    func open() throws(ImageError) -> ImageStore {
        try ImageStore(root: root ?? CommandLine.environment("FC_IMAGE_ROOT") ?? ImageStore.defaultRoot)
    }
}

extension CommandLine {
    static func environment(_ name: String) -> String? { getenv(name).map { String(cString: $0) } }
}

/// Runs `body`; an ``ImageError`` becomes one line on stderr and exit status 1.
func reporting(_ body: () async throws(ImageError) -> Void) async throws {
    do { try await body() } catch {
        let line = "fc-image: " + error.message.replacingOccurrences(of: "\n", with: " ") + "\n"
        try? FileDescriptor.standardError.writeAll(Array(line.utf8))
        throw ExitCode(1)
    }
}

func printLine(_ text: String) { try? FileDescriptor.standardOutput.writeAll(Array((text + "\n").utf8)) }
func logLine(_ text: String) { try? FileDescriptor.standardError.writeAll(Array(("fc-image: " + text + "\n").utf8)) }

struct Pull: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Download an image and unpack it (cached by digest).")
    @OptionGroup var store: StoreOptions
    @Option(help: "The platform to pick from an index, OS/ARCH.") var platform = "linux/amd64"
    @Flag(help: "Plain HTTP (default: only for loopback registries).") var plainHTTP = false
    @Flag(name: .shortAndLong, help: "No progress lines.") var quiet = false
    @Argument(help: "The image reference, [REGISTRY/]REPOSITORY[:TAG][@DIGEST].") var reference: String

    func run() async throws {
        try await reporting { () async throws(ImageError) in
            let parts = platform.split(separator: "/").map(String.init)
            guard parts.count == 2 else { throw ImageError(.invalidReference, "--platform \(platform): expected OS/ARCH") }
            let quiet = quiet
            let puller = Puller(store: try store.open(), platform: PlatformChoice(os: parts[0], architecture: parts[1]),
                                plainHTTP: plainHTTP ? true : nil, credentials: CommandLine.environment("FC_IMAGE_AUTH"),
                                log: { if !quiet { logLine($0) } })
            let result = try await puller.pull(try Reference(parsing: reference))
            printLine("\(result.record.reference) \(result.record.manifest) \(result.rootfs)")
        }
    }
}

struct List: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List pulled images.", aliases: ["ls"])
    @OptionGroup var store: StoreOptions
    @Flag(help: "One JSON array.") var json = false

    func run() async throws {
        try await reporting { () async throws(ImageError) in
            let records = try store.open().records()
            if json {
                printLine(String(decoding: ImageStore.encodeJSON(records), as: UTF8.self).trimmingCharacters(in: .newlines))
                return
            }
            printLine("REFERENCE\tMANIFEST\tSIZE")
            for record in records { printLine("\(record.reference)\t\(record.manifest)\t\(record.size)") }
        }
    }
}

struct Remove: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rm", abstract: "Forget an image, and remove what no other image uses.")
    @OptionGroup var store: StoreOptions
    @Argument var reference: String

    func run() async throws {
        try await reporting { () async throws(ImageError) in
            let report = try store.open().remove(try Reference(parsing: reference))
            printLine("removed \(report.blobs) blobs, \(report.trees) trees (\(report.bytes) bytes of blobs)")
        }
    }
}

struct GC: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "gc", abstract: "Remove blobs and trees no image uses, and abandoned downloads.")
    @OptionGroup var store: StoreOptions

    func run() async throws {
        try await reporting { () async throws(ImageError) in
            let report = try store.open().collectGarbage()
            printLine("removed \(report.blobs) blobs, \(report.trees) trees, \(report.temporaries) temporaries (\(report.bytes) bytes of blobs)")
        }
    }
}

struct BundleCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "bundle", abstract: "Make an OCI bundle (config.json; the rootfs stays in the store) from a pulled image.")
    @OptionGroup var store: StoreOptions
    @Argument var reference: String
    @Argument var directory: String

    func run() async throws {
        try await reporting { () async throws(ImageError) in
            let store = try store.open()
            let record = try store.record(for: try Reference(parsing: reference))
            let config = try ImageStore.decodeJSON(ImageConfig.self, try store.readBlob(record.config), what: "image config \(record.config)")
            let rootfs = store.rootfsPath(record.chainID)
            guard Files.isDirectory(rootfs) else { throw ImageError(.notFound, "the unpacked tree of \(record.reference) is missing (pull it again)") }
            try BundleWriter.write(try BundleWriter.spec(config: config, record: record, rootfs: rootfs), to: directory)
            printLine(directory)
        }
    }
}
