import Glibc
import LinuxSystem

/// One `sendmsg` of `bytes` with any number of descriptors in one SCM_RIGHTS message (what a hostile peer may
/// send; LinuxSystem's own sender stops at its maximum). `struct cmsghdr` on Linux: a size_t length, two ints,
/// then the data, each message padded to 8 bytes.
public func sendWithDescriptors(_ socket: FileDescriptor, _ bytes: [UInt8], _ descriptors: [FileDescriptor]) throws -> Int {
    let header = MemoryLayout<Int>.size + 2 * MemoryLayout<Int32>.size
    let length = header + descriptors.count * MemoryLayout<Int32>.size
    var control = [UInt8](repeating: 0, count: (length + 7) & ~7)
    control.withUnsafeMutableBytes { raw in
        raw.storeBytes(of: length, toByteOffset: 0, as: Int.self)
        raw.storeBytes(of: SOL_SOCKET, toByteOffset: MemoryLayout<Int>.size, as: Int32.self)
        raw.storeBytes(of: Int32(SCM_RIGHTS), toByteOffset: MemoryLayout<Int>.size + 4, as: Int32.self)
        for (i, fd) in descriptors.enumerated() {
            raw.storeBytes(of: fd.rawValue, toByteOffset: header + 4 * i, as: Int32.self)
        }
    }
    var data = bytes
    let n = data.withUnsafeMutableBytes { payload in
        control.withUnsafeMutableBytes { cmsg in
            var iov = iovec(iov_base: payload.baseAddress, iov_len: payload.count)
            return withUnsafeMutablePointer(to: &iov) { iovPointer in
                var message = msghdr()
                message.msg_iov = iovPointer
                message.msg_iovlen = 1
                message.msg_control = cmsg.baseAddress
                message.msg_controllen = cmsg.count
                return sendmsg(socket.rawValue, &message, Int32(MSG_NOSIGNAL))
            }
        }
    }
    guard n >= 0 else { throw SystemError.last("sendmsg") }
    return n
}

/// What each open descriptor of process `pid` refers to (`/proc/PID/fd/N` link texts: a path, `pipe:[INODE]`,
/// `socket:[INODE]`, …); empty when the process is gone.
public func openDescriptors(of pid: Int32) -> [String] {
    Directory.names("/proc/\(pid)/fd").compactMap { Files.readLink("/proc/\(pid)/fd/\($0)") }
}

/// The `/proc/PID/fd` link text of a pipe (either end), to look for in ``openDescriptors(of:)``.
public func pipeLink(_ end: FileDescriptor) throws -> String {
    "pipe:[\(try end.status().inode)]"
}
