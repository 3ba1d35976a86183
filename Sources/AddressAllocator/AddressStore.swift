/// Per-instance IPv6 addresses, whatever database holds them: ``SQLiteAddressAllocator`` on a node,
/// ``PostgresAddressAllocator`` for a fleet. Every call is idempotent per instance id.
public protocol AddressAllocating: AnyObject {
    var prefix: IPv6Prefix { get }
    /// The instance's address: the stored one, else a new random one in `prefix`, claimed uniquely.
    func allocate(instanceID: String) throws(AllocatorError) -> String
    /// The instance's stored address, nil when it has none.
    func lookup(instanceID: String) throws(AllocatorError) -> String?
    /// Frees the instance's address; false when it had none.
    func release(instanceID: String) throws(AllocatorError) -> Bool
    /// Every allocation, ordered by instance id.
    func all() throws(AllocatorError) -> [(instanceID: String, address: String)]
}

/// What the allocation algorithm needs from a database holding
/// `allocations(instance_id PRIMARY KEY, address UNIQUE)`: SQLite on a node, PostgreSQL for a fleet.
protocol AddressStore {
    var prefix: IPv6Prefix { get }
    var maxAttempts: Int { get }
    func lookup(instanceID: String) throws(AllocatorError) -> String?
    /// Inserts the pair; false when a UNIQUE constraint refused it (the address is taken, or another process
    /// allocated for this instance meanwhile).
    func claim(instanceID: String, address: String) throws(AllocatorError) -> Bool
}

extension AddressStore {
    /// The instance's stored address, else a newly claimed random one. Racing allocators cannot both win an
    /// address: the loser's claim fails and it retries (and picks up its own instance's row if that was the race).
    func claimStoredOrRandom(instanceID: String) throws(AllocatorError) -> String {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<maxAttempts {
            if let stored = try lookup(instanceID: instanceID) {
                guard let bytes = IPv6Address.parse(stored), prefix.contains(bytes) else {
                    throw .storedAddressOutsidePrefix(stored)
                }
                return stored
            }
            let candidate = IPv6Address.format(prefix.randomAddress(using: &generator))
            if try claim(instanceID: instanceID, address: candidate) { return candidate }
        }
        throw .exhausted(attempts: maxAttempts)
    }
}
