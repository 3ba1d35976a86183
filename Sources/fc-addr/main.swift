// fc-addr: per-instance IPv6 addresses from a SQLite database or a PostgreSQL server (see AddressAllocator).
//   fc-addr (--db PATH | --postgres CONNINFO) --prefix PREFIX (allocate ID... | release ID... | list)
import AddressAllocator
import ArgumentParser
import LinuxSystem

struct FCAddr: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fc-addr", abstract: "Allocate, release and list per-instance IPv6 addresses.")

    enum Action: String, ExpressibleByArgument, CaseIterable {
        /// Prints "ID ADDRESS" per id.
        case allocate
        /// Prints "ID released" or "ID absent" per id.
        case release
        /// Prints every allocation as "ID ADDRESS".
        case list
    }

    @Option(name: .long, help: "SQLite database file (created if missing).") var db: String?
    @Option(name: .long, help: "libpq connection string of a PostgreSQL server (instead of --db).") var postgres: String?
    @Option(name: .long, help: "IPv6 prefix to allocate from, e.g. fd00:1::/64.") var prefix: String
    @Argument(help: "allocate, release or list.") var action: Action
    @Argument(help: "Instance ids (allocate, release).") var ids: [String] = []

    func validate() throws {
        guard (db == nil) != (postgres == nil) else { throw ValidationError("give exactly one of --db and --postgres") }
        if action == .list && !ids.isEmpty { throw ValidationError("list takes no ids") }
    }

    func run() throws {
        do {
            let allocator = try open()
            switch action {
            case .allocate:
                for id in ids { print("\(id) \(try allocator.allocate(instanceID: id))") }
            case .release:
                for id in ids { print("\(id) \(try allocator.release(instanceID: id) ? "released" : "absent")") }
            case .list:
                for row in try allocator.all() { print("\(row.instanceID) \(row.address)") }
            }
        } catch {
            // An allocator failure (not a usage error): one line on stderr, exit status 1.
            try? FileDescriptor.standardError.writeAll(Array("fc-addr: \(error)\n".utf8))
            throw ExitCode.failure
        }
    }

    private func open() throws(AllocatorError) -> any AddressAllocating {
        let prefix = try IPv6Prefix(prefix)
        if let postgres { return try PostgresAddressAllocator(connectionString: postgres, prefix: prefix) }
        return try SQLiteAddressAllocator(databasePath: db ?? "", prefix: prefix)
    }
}

FCAddr.main()
