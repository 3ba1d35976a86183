import Glibc

/// A minimal rtnetlink writer: link up/MTU, addresses and routes, each request acknowledged by the kernel.
///
/// Messages are built by hand (host byte order, 4-byte aligned attributes, `<linux/rtnetlink.h>` layouts), so
/// nothing beyond Glibc is needed. One request at a time: every call sends one message with `NLM_F_ACK` and
/// reads until the matching `NLMSG_ERROR` (errno 0 = success).
public final class RouteNetlink {
    private let fd: Int32
    private var sequence: UInt32 = 1

    // <linux/netlink.h>, <linux/rtnetlink.h>, <linux/if_addr.h>
    private static let netlinkRoute: Int32 = 0
    private static let nlmsgError: UInt16 = 2
    private static let flagRequest: UInt16 = 0x1, flagAck: UInt16 = 0x4
    private static let flagReplace: UInt16 = 0x100, flagCreate: UInt16 = 0x400
    private static let rtmNewLink: UInt16 = 16, rtmNewAddr: UInt16 = 20, rtmNewRoute: UInt16 = 24
    private static let iflaMTU: UInt16 = 4
    private static let ifaAddress: UInt16 = 1, ifaLocal: UInt16 = 2, ifaFlags: UInt16 = 8
    /// IFA_F_NODAD: no duplicate address detection, the address is usable at once.
    public static let addressNoDAD: UInt32 = 0x02
    private static let rtaDst: UInt16 = 1, rtaOif: UInt16 = 4, rtaGateway: UInt16 = 5, rtaPriority: UInt16 = 6

    /// Opens a NETLINK_ROUTE socket.
    public init() throws(SystemError) {
        let fd = socket(AF_NETLINK, Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue), Self.netlinkRoute)
        guard fd >= 0 else { throw SystemError.last("socket", "AF_NETLINK") }
        self.fd = fd
    }

    deinit { Glibc.close(fd) }

    /// Sets the link up and, when given, its MTU (RTM_NEWLINK on an existing index).
    public func setLink(index: Int32, up: Bool, mtu: UInt32?) throws(SystemError) {
        var body: [UInt8] = []
        body += [UInt8(AF_UNSPEC), 0]           // ifi_family, pad
        append(&body, UInt16(0))                // ifi_type
        append(&body, UInt32(bitPattern: index))// ifi_index
        append(&body, up ? UInt32(IFF_UP) : 0) // ifi_flags
        append(&body, UInt32(IFF_UP))  // ifi_change
        if let mtu { attribute(&body, Self.iflaMTU, bytes(mtu)) }
        try request(Self.rtmNewLink, flags: 0, body, what: "link \(index)")
    }

    /// Adds (or replaces) an address. `address` is 4 or 16 bytes.
    public func addAddress(index: Int32, address: [UInt8], prefixLength: UInt8, flags: UInt32) throws(SystemError) {
        let family: UInt8 = address.count == 4 ? UInt8(AF_INET) : UInt8(AF_INET6)
        var body: [UInt8] = [family, prefixLength, UInt8(truncatingIfNeeded: flags), 0] // family, prefixlen, flags, scope
        append(&body, UInt32(bitPattern: index))
        attribute(&body, Self.ifaLocal, address)
        attribute(&body, Self.ifaAddress, address)
        attribute(&body, Self.ifaFlags, bytes(flags))
        try request(Self.rtmNewAddr, flags: Self.flagCreate | Self.flagReplace, body, what: "address on \(index)")
    }

    /// Adds (or replaces) a route in the main table. `destination` empty with length 0 is the default route.
    /// Without a gateway the route is on-link (scope link for IPv4).
    public func addRoute(family: Int32, destination: [UInt8], prefixLength: UInt8, gateway: [UInt8]?,
                         outputIndex: Int32?, metric: UInt32?) throws(SystemError) {
        let scope: UInt8 = (gateway == nil && family == AF_INET) ? 253 : 0   // RT_SCOPE_LINK : RT_SCOPE_UNIVERSE
        // family, dst_len, src_len, tos, table (RT_TABLE_MAIN), protocol (RTPROT_BOOT), scope, type (RTN_UNICAST)
        var body: [UInt8] = [UInt8(family), prefixLength, 0, 0, 254, 3, scope, 1]
        append(&body, UInt32(0))                // rtm_flags
        if prefixLength > 0 { attribute(&body, Self.rtaDst, destination) }
        if let gateway { attribute(&body, Self.rtaGateway, gateway) }
        if let outputIndex { attribute(&body, Self.rtaOif, bytes(UInt32(bitPattern: outputIndex))) }
        if let metric { attribute(&body, Self.rtaPriority, bytes(metric)) }
        try request(Self.rtmNewRoute, flags: Self.flagCreate | Self.flagReplace, body, what: "route")
    }

    // MARK: - Wire

    private func request(_ type: UInt16, flags: UInt16, _ body: [UInt8], what: String) throws(SystemError) {
        let seq = sequence
        sequence &+= 1
        var message: [UInt8] = []
        append(&message, UInt32(16 + body.count))
        append(&message, type)
        append(&message, Self.flagRequest | Self.flagAck | flags)
        append(&message, seq)
        append(&message, UInt32(0))             // nlmsg_pid: the kernel
        message += body
        let sent = try retryingOnEINTR("netlink send", what) {
            message.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
        }
        guard sent == message.count else { throw SystemError("netlink send", errno: EMSGSIZE, what) }

        var buffer = [UInt8](repeating: 0, count: 8192)
        while true {
            let n = try retryingOnEINTR("netlink recv", what) {
                buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            }
            var offset = 0
            while offset + 16 <= n {
                let length = Int(read32(buffer, offset))
                let msgType = buffer.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset + 4, as: UInt16.self) }
                let msgSeq = read32(buffer, offset + 8)
                guard length >= 16, offset + length <= n else { break }
                if msgType == Self.nlmsgError && msgSeq == seq && length >= 20 {
                    let code = Int32(bitPattern: read32(buffer, offset + 16))
                    if code == 0 { return }
                    throw SystemError("netlink", errno: -code, what)
                }
                offset += (length + 3) & ~3
            }
        }
    }

    private func read32(_ b: [UInt8], _ i: Int) -> UInt32 {
        b.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: i, as: UInt32.self) }
    }

    private func bytes<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
        withUnsafeBytes(of: value) { Array($0) }  // host byte order, as netlink wants
    }

    private func append<T: FixedWidthInteger>(_ out: inout [UInt8], _ value: T) { out += bytes(value) }

    private func attribute(_ out: inout [UInt8], _ type: UInt16, _ data: [UInt8]) {
        append(&out, UInt16(4 + data.count))
        append(&out, type)
        out += data
        while out.count % 4 != 0 { out.append(0) }
    }
}
