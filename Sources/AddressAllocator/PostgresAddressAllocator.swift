import CLibPQ
#if canImport(Glibc)
import Glibc
#endif

/// The fleet variant of ``AddressAllocator``: the same table and rules on a PostgreSQL server, so nodes
/// racing for one address cannot both win (`UNIQUE(address)` is checked by the server; the loser's
/// `INSERT … ON CONFLICT DO NOTHING` returns no row and it retries with another random address).
///
/// One instance owns one libpq connection; it is not thread-safe.
public final class PostgresAddressAllocator: AddressAllocating, AddressStore {
    public let prefix: IPv6Prefix
    private let connection: OpaquePointer
    let maxAttempts: Int

    /// Connects with a libpq connection string (`host=/tmp/pg dbname=fc`, `postgresql://…`) and creates the
    /// table when missing.
    public init(connectionString: String, prefix: IPv6Prefix, maxAttempts: Int = 64) throws(AllocatorError) {
        guard let conn = PQconnectdb(connectionString) else { throw .database("out of memory", -1) }
        guard PQstatus(conn) == CONNECTION_OK else {
            let message = String(cString: PQerrorMessage(conn))
            PQfinish(conn)
            throw .database("connect: \(message.prefix(300))", -1)
        }
        self.connection = conn
        self.prefix = prefix
        self.maxAttempts = maxAttempts
        // Concurrent CREATE TABLE IF NOT EXISTS can still collide in the catalog: serialize it with an
        // advisory lock (transaction-scoped, released at COMMIT).
        try command("SET client_min_messages TO warning")  // no NOTICE for an existing table
        try command("BEGIN")
        try command("SELECT pg_advisory_xact_lock(8008)")
        try command("""
            CREATE TABLE IF NOT EXISTS allocations (
                instance_id TEXT PRIMARY KEY,
                address TEXT NOT NULL UNIQUE,
                created_at TIMESTAMPTZ NOT NULL DEFAULT now()
            )
            """)
        try command("COMMIT")
    }

    deinit { PQfinish(connection) }

    /// The instance's address: the stored one if present, else a newly claimed random one.
    public func allocate(instanceID: String) throws(AllocatorError) -> String {
        try validate(instanceID)
        return try claimStoredOrRandom(instanceID: instanceID)
    }

    /// `ON CONFLICT DO NOTHING`: the server's UNIQUE constraints decide a race; no row back means we lost it.
    func claim(instanceID: String, address: String) throws(AllocatorError) -> Bool {
        try !query("INSERT INTO allocations (instance_id, address) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING address",
                   [instanceID, address]).isEmpty
    }

    /// The stored address of an instance, if any.
    public func lookup(instanceID: String) throws(AllocatorError) -> String? {
        try query("SELECT address FROM allocations WHERE instance_id = $1", [instanceID]).first
    }

    /// Forgets the instance's address. Returns whether there was one.
    @discardableResult
    public func release(instanceID: String) throws(AllocatorError) -> Bool {
        try validate(instanceID)
        return try !query("DELETE FROM allocations WHERE instance_id = $1 RETURNING address", [instanceID]).isEmpty
    }

    /// Every allocation, ordered by instance id.
    public func all() throws(AllocatorError) -> [(instanceID: String, address: String)] {
        let flat = try query("SELECT instance_id || ' ' || address FROM allocations ORDER BY instance_id", [])
        return flat.compactMap { line in
            let parts = line.split(separator: " ", maxSplits: 1)
            return parts.count == 2 ? (String(parts[0]), String(parts[1])) : nil
        }
    }

    // MARK: - libpq plumbing

    private func validate(_ id: String) throws(AllocatorError) {
        guard !id.isEmpty, id.utf8.count <= 256, !id.utf8.contains(0), !id.contains(" ") else {
            throw .invalidInstanceID("must be 1...256 bytes without NUL or space")
        }
    }

    private func command(_ sql: String) throws(AllocatorError) { _ = try query(sql, []) }

    /// Runs `sql` with text parameters; returns the first column of every row.
    private func query(_ sql: String, _ parameters: [String]) throws(AllocatorError) -> [String] {
        // strdup'd C strings stay valid for the call; freed after.
        let cStrings = parameters.map { strdupOrEmpty($0) }
        defer { cStrings.forEach { free($0) } }
        let pointers: [UnsafePointer<CChar>?] = cStrings.map { UnsafePointer($0) }
        let result = pointers.withUnsafeBufferPointer { buf in
            PQexecParams(connection, sql, Int32(parameters.count), nil, buf.baseAddress, nil, nil, 0)
        }
        guard let result else { throw .database(String(cString: PQerrorMessage(connection)), -1) }
        defer { PQclear(result) }
        let status = PQresultStatus(result)
        guard status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK else {
            throw .database(String(cString: PQresultErrorMessage(result)).prefix(300).description, Int32(status.rawValue))
        }
        guard status == PGRES_TUPLES_OK else { return [] }
        return (0..<PQntuples(result)).map { String(cString: PQgetvalue(result, $0, 0)) }
    }

    private func strdupOrEmpty(_ s: String) -> UnsafeMutablePointer<CChar>? { s.withCString { strdup($0) } }
}
