import CSQLite

/// Why an allocation failed.
public enum AllocatorError: Error, Equatable, CustomStringConvertible {
    case invalidPrefix(String)
    case invalidInstanceID(String)
    /// SQLite said no: the message and the primary result code.
    case database(String, Int32)
    /// Every random candidate collided (the prefix is nearly full).
    case exhausted(attempts: Int)
    /// The stored address for this instance is outside the configured prefix.
    case storedAddressOutsidePrefix(String)

    public var description: String {
        switch self {
        case .invalidPrefix(let m): "invalid prefix: \(m)"
        case .invalidInstanceID(let m): "invalid instance id: \(m)"
        case .database(let m, let code): "database error \(code): \(m)"
        case .exhausted(let n): "no free address after \(n) attempts"
        case .storedAddressOutsidePrefix(let a): "stored address \(a) is outside the configured prefix"
        }
    }
}

/// Per-instance IPv6 addresses from one prefix, unique by a database constraint.
///
/// The table `allocations(instance_id TEXT PRIMARY KEY, address TEXT NOT NULL UNIQUE)` is the source of truth:
/// `allocate` returns the instance's stored address when there is one; otherwise it generates a random address
/// in the prefix and inserts it. Two allocators (threads, processes) racing for the same address cannot both
/// win: the second insert violates `UNIQUE(address)` and retries with a new random address. Addresses are stored
/// in RFC 5952 canonical text, so equal addresses are equal strings.
///
/// One instance owns one SQLite connection; it is not thread-safe (use one per thread or process).
public final class SQLiteAddressAllocator: AddressAllocating, AddressStore {
    public let prefix: IPv6Prefix
    private var db: OpaquePointer?
    let maxAttempts: Int

    /// Opens (creating if needed) the database at `path`. `busyTimeoutMs` bounds how long a writer waits for
    /// another process's transaction.
    public init(databasePath path: String, prefix: IPv6Prefix, busyTimeoutMs: Int32 = 30_000,
                maxAttempts: Int = 64) throws(AllocatorError) {
        self.prefix = prefix
        self.maxAttempts = maxAttempts
        var handle: OpaquePointer?
        let rc = sqlite3_open_v2(path, &handle, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nil)
        db = handle
        guard rc == SQLITE_OK else {
            let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? "cannot open"
            sqlite3_close(handle)
            db = nil
            throw .database("open \(path): \(message)", rc)
        }
        sqlite3_busy_timeout(handle, busyTimeoutMs)
        // Several processes opening a new database at once: switching it to WAL needs an exclusive lock, and
        // SQLite answers SQLITE_BUSY for that without calling the busy handler. Retried within the same bound.
        try execute("PRAGMA journal_mode=WAL", retryingBusyFor: busyTimeoutMs)
        try execute("""
            CREATE TABLE IF NOT EXISTS allocations (
                instance_id TEXT PRIMARY KEY,
                address TEXT NOT NULL UNIQUE,
                created_at INTEGER NOT NULL DEFAULT (strftime('%s','now'))
            )
            """)
    }

    deinit { sqlite3_close_v2(db) }

    /// The instance's address: the stored one if present, else a newly claimed random one.
    public func allocate(instanceID: String) throws(AllocatorError) -> String {
        try validate(instanceID)
        return try claimStoredOrRandom(instanceID: instanceID)
    }

    /// The stored address of an instance, if any.
    public func lookup(instanceID: String) throws(AllocatorError) -> String? {
        let stmt = try prepare("SELECT address FROM allocations WHERE instance_id = ?1")
        defer { sqlite3_finalize(stmt) }
        try bindParameter(stmt, 1, instanceID)
        let rc = sqlite3_step(stmt)
        switch rc {
        case SQLITE_ROW:
            guard let text = sqlite3_column_text(stmt, 0) else { return nil }
            return String(cString: text)
        case SQLITE_DONE: return nil
        default: throw error("select", rc)
        }
    }

    /// Forgets the instance's address (on VM deletion). Returns whether there was one.
    @discardableResult
    public func release(instanceID: String) throws(AllocatorError) -> Bool {
        try validate(instanceID)
        let stmt = try prepare("DELETE FROM allocations WHERE instance_id = ?1")
        defer { sqlite3_finalize(stmt) }
        try bindParameter(stmt, 1, instanceID)
        let rc = sqlite3_step(stmt)
        guard rc == SQLITE_DONE else { throw error("delete", rc) }
        return sqlite3_changes(db) > 0
    }

    /// Every allocation, ordered by instance id.
    public func all() throws(AllocatorError) -> [(instanceID: String, address: String)] {
        let stmt = try prepare("SELECT instance_id, address FROM allocations ORDER BY instance_id")
        defer { sqlite3_finalize(stmt) }
        var out: [(String, String)] = []
        while true {
            let rc = sqlite3_step(stmt)
            if rc == SQLITE_DONE { return out }
            guard rc == SQLITE_ROW, let id = sqlite3_column_text(stmt, 0), let addr = sqlite3_column_text(stmt, 1)
            else { throw error("select", rc) }
            out.append((String(cString: id), String(cString: addr)))
        }
    }

    // MARK: - SQLite plumbing

    /// True when inserted, false on a unique violation; anything else throws.
    func claim(instanceID: String, address: String) throws(AllocatorError) -> Bool {
        let stmt = try prepare("INSERT INTO allocations (instance_id, address) VALUES (?1, ?2)")
        defer { sqlite3_finalize(stmt) }
        try bindParameter(stmt, 1, instanceID)
        try bindParameter(stmt, 2, address)
        let rc = sqlite3_step(stmt)
        if rc == SQLITE_DONE { return true }
        if rc & 0xff == SQLITE_CONSTRAINT { return false }
        throw error("insert", rc)
    }

    private func validate(_ id: String) throws(AllocatorError) {
        guard !id.isEmpty, id.utf8.count <= 256, !id.utf8.contains(0) else {
            throw .invalidInstanceID("must be 1...256 bytes without NUL")
        }
    }

    private func execute(_ sql: String, retryingBusyFor timeoutMs: Int32 = 0) throws(AllocatorError) {
        var waitedMs: Int32 = 0
        while true {
            let rc = sqlite3_exec(db, sql, nil, nil, nil)
            if rc == SQLITE_OK { return }
            guard rc & 0xFF == SQLITE_BUSY, waitedMs < timeoutMs else { throw error(String(sql.prefix(40)), rc) }
            waitedMs += sqlite3_sleep(5)
        }
    }

    private func prepare(_ sql: String) throws(AllocatorError) -> OpaquePointer? {
        var stmt: OpaquePointer?
        let rc = sqlite3_prepare_v2(db, sql, -1, &stmt, nil)
        guard rc == SQLITE_OK else { throw error("prepare", rc) }
        return stmt
    }

    private func bindParameter(_ stmt: OpaquePointer?, _ index: Int32, _ value: String) throws(AllocatorError) {
        // SQLITE_TRANSIENT: SQLite copies the bytes before the call returns.
        let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
        let rc = sqlite3_bind_text(stmt, index, value, -1, transient)
        guard rc == SQLITE_OK else { throw error("bind", rc) }
    }

    private func error(_ what: String, _ rc: Int32) -> AllocatorError {
        let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "no connection"
        return .database("\(what): \(message)", rc)
    }
}
