import LinuxSystem

/// A resolved identity for a process.
public struct ResolvedUser: Sendable, Equatable {
    public var uid: UInt32
    public var gid: UInt32
    /// Supplementary groups from /etc/group (nil when the user was given numerically).
    public var groups: [UInt32]?
    public var home: String?
    public var name: String?
}

/// Resolves user names and `uid[:gid]` against the guest's own /etc/passwd and /etc/group (no NSS).
public struct UserDatabase: Sendable {
    struct PasswdEntry { var name: String; var uid: UInt32; var gid: UInt32; var home: String }
    struct GroupEntry { var name: String; var gid: UInt32; var members: [String] }

    var users: [PasswdEntry]
    var groupEntries: [GroupEntry]

    /// Parses passwd- and group-format text.
    public init(passwd: String, group: String) {
        users = passwd.split(separator: "\n").compactMap { line in
            let f = line.split(separator: ":", omittingEmptySubsequences: false)
            guard f.count >= 7, let uid = UInt32(f[2]), let gid = UInt32(f[3]) else { return nil }
            return PasswdEntry(name: String(f[0]), uid: uid, gid: gid, home: String(f[5]))
        }
        groupEntries = group.split(separator: "\n").compactMap { line in
            let f = line.split(separator: ":", omittingEmptySubsequences: false)
            guard f.count >= 4, let gid = UInt32(f[2]) else { return nil }
            return GroupEntry(name: String(f[0]), gid: gid, members: f[3].split(separator: ",").map(String.init))
        }
    }

    /// Reads the files (missing files are empty databases).
    public static func load(passwdPath: String = "/etc/passwd", groupPath: String = "/etc/group") -> UserDatabase {
        UserDatabase(passwd: (try? Files.readText(passwdPath)) ?? "", group: (try? Files.readText(groupPath)) ?? "")
    }

    /// Resolves `name`, `uid` or `uid:gid` (a group may also be a name: `user:group`).
    public func resolve(_ spec: String) -> Result<ResolvedUser, ResolveError> {
        let parts = spec.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        guard let userPart = parts.first, !userPart.isEmpty else { return .failure(ResolveError("empty user")) }
        var resolved: ResolvedUser
        if let uid = UInt32(userPart) {
            if let entry = users.first(where: { $0.uid == uid }) {
                resolved = ResolvedUser(uid: uid, gid: entry.gid, groups: supplementaryGroups(of: entry), home: entry.home, name: entry.name)
            } else {
                resolved = ResolvedUser(uid: uid, gid: uid, groups: [], home: nil, name: nil)
            }
        } else if let entry = users.first(where: { $0.name == userPart }) {
            resolved = ResolvedUser(uid: entry.uid, gid: entry.gid, groups: supplementaryGroups(of: entry), home: entry.home, name: entry.name)
        } else {
            return .failure(ResolveError("no user \"\(userPart.prefix(64))\" in /etc/passwd"))
        }
        if parts.count == 2 {
            let groupPart = parts[1]
            if let gid = UInt32(groupPart) {
                resolved.gid = gid
            } else if let g = groupEntries.first(where: { $0.name == groupPart }) {
                resolved.gid = g.gid
            } else {
                return .failure(ResolveError("no group \"\(groupPart.prefix(64))\" in /etc/group"))
            }
        }
        return .success(resolved)
    }

    private func supplementaryGroups(of entry: PasswdEntry) -> [UInt32] {
        var gids: [UInt32] = [entry.gid]
        for g in groupEntries where g.members.contains(entry.name) && !gids.contains(g.gid) { gids.append(g.gid) }
        return gids
    }

    /// Why a user could not be resolved.
    public struct ResolveError: Error, Sendable, Equatable {
        public var message: String
        init(_ message: String) { self.message = message }
    }
}

