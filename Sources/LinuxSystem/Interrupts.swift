import Glibc

/// Runs one system call, again and again while it fails with EINTR, the one retry policy of this module
/// (modelled on swift-system's `valueOrErrno(retryOnInterrupt:)`).
///
/// `body` follows libc's convention: a negative result means failure, with the reason in `errno`. The first
/// non-negative result is returned; any other failure becomes a ``SystemError`` named `code`. A signal handler
/// installed without `SA_RESTART` makes a blocking call return EINTR; retrying here is what keeps that invisible
/// to callers.
@inline(__always)
func retryingOnEINTR<Result: FixedWidthInteger>(
    _ code: String, _ message: @autoclosure () -> String = "", _ body: () -> Result
) throws(SystemError) -> Result {
    while true {
        let result = body()
        if result >= 0 { return result }
        let error = Glibc.errno
        if error == EINTR { continue }
        throw SystemError(code, errno: error, message())
    }
}

/// ``retryingOnEINTR(_:_:_:)`` for the CLinux shims, which return `-errno` instead of setting `errno`.
@inline(__always)
func retryingOnEINTR<Result: FixedWidthInteger & SignedInteger>(
    negatedErrno code: String, _ message: @autoclosure () -> String = "", _ body: () -> Result
) throws(SystemError) -> Result {
    while true {
        let result = body()
        if result >= 0 { return result }
        let error = Int32(truncatingIfNeeded: -result)
        if error == EINTR { continue }
        throw SystemError(code, errno: error, message())
    }
}

/// The outcome of one read or write on a descriptor that may be non-blocking.
///
/// It replaces the two older shapes (`read` returning `nil`, `write` returning `0` for EAGAIN), so that "the
/// kernel had nothing for me" can never be mistaken for end of file or an empty write.
public enum IOResult<Value>: Sendable where Value: Sendable {
    /// The call did its work; for reads `0` means end of file.
    case processed(Value)
    /// A non-blocking descriptor was not ready (EAGAIN / EWOULDBLOCK); nothing happened.
    case wouldBlock

    /// The value, nil for ``wouldBlock``.
    public var value: Value? {
        if case .processed(let value) = self { return value }
        return nil
    }
}

extension IOResult: Equatable where Value: Equatable {}

/// Maps EAGAIN of a call retried on EINTR to ``IOResult/wouldBlock``.
@inline(__always)
func ioResult<Result: FixedWidthInteger>(
    _ code: String, _ message: @autoclosure () -> String, _ body: () -> Result
) throws(SystemError) -> IOResult<Int> {
    do {
        return .processed(Int(try retryingOnEINTR(code, message(), body)))
    } catch where error.errno == EAGAIN || error.errno == EWOULDBLOCK {
        return .wouldBlock
    }
}

/// ``ioResult(_:_:_:)`` for the CLinux shims, which return `-errno` instead of setting `errno`.
@inline(__always)
func ioResult<Result: FixedWidthInteger & SignedInteger>(
    negatedErrno code: String, _ message: @autoclosure () -> String, _ body: () -> Result
) throws(SystemError) -> IOResult<Int> {
    do {
        return .processed(Int(try retryingOnEINTR(negatedErrno: code, message(), body)))
    } catch where error.errno == EAGAIN || error.errno == EWOULDBLOCK {
        return .wouldBlock
    }
}
