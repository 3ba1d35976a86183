// fc-addr: per-instance IPv6 addresses from a SQLite database (see AddressAllocator).
//   fc-addr --db PATH --prefix PREFIX allocate ID [ID...]   prints "ID ADDRESS" per line
//   fc-addr --db PATH --prefix PREFIX release ID [ID...]
//   fc-addr --db PATH --prefix PREFIX list
// With --postgres CONNINFO (a libpq connection string) instead of --db, the same on a PostgreSQL server.
import AddressAllocator
#if canImport(Glibc)
import Glibc
#endif

func fail(_ message: String, code: Int32 = 2) -> Never {
    let line = Array("fc-addr: \(message)\n".utf8)
    _ = line.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    exit(code)
}

var args = Array(CommandLine.arguments.dropFirst())
var dbPath: String?
var postgres: String?
var prefixText: String?
while let first = args.first, first.hasPrefix("--") {
    args.removeFirst()
    guard let value = args.first else { fail("\(first) needs a value") }
    args.removeFirst()
    switch first {
    case "--db": dbPath = value
    case "--postgres": postgres = value
    case "--prefix": prefixText = value
    default: fail("unknown option \(first)")
    }
}
guard dbPath != nil || postgres != nil, let prefixText, let command = args.first else {
    fail("usage: fc-addr (--db PATH | --postgres CONNINFO) --prefix PREFIX (allocate ID... | release ID... | list)")
}
let ids = args.dropFirst()

/// The two backends behind one shape.
struct Backend {
    var allocate: (String) throws -> String
    var release: (String) throws -> Bool
    var all: () throws -> [(instanceID: String, address: String)]
}

do {
    let prefix = try IPv6Prefix(prefixText)
    let allocator: Backend
    if let postgres {
        let pg = try PostgresAddressAllocator(connectionString: postgres, prefix: prefix)
        allocator = Backend(allocate: { try pg.allocate(instanceID: $0) }, release: { try pg.release(instanceID: $0) },
                            all: { try pg.all() })
    } else if let dbPath {
        let sqlite = try AddressAllocator(databasePath: dbPath, prefix: prefix)
        allocator = Backend(allocate: { try sqlite.allocate(instanceID: $0) }, release: { try sqlite.release(instanceID: $0) },
                            all: { try sqlite.all() })
    } else {
        fail("--db or --postgres is required")
    }
    switch command {
    case "allocate":
        for id in ids { print("\(id) \(try allocator.allocate(id))") }
    case "release":
        for id in ids { print("\(id) \(try allocator.release(id) ? "released" : "absent")") }
    case "list":
        for row in try allocator.all() { print("\(row.instanceID) \(row.address)") }
    default:
        fail("unknown command \(command)")
    }
} catch {
    fail("\(error)", code: 1)
}
