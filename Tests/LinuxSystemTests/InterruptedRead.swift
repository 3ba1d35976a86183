import Glibc
import LinuxSystem
import Testing

/// A blocking read on a thread that keeps receiving a signal whose handler was installed without SA_RESTART.
///
/// First a raw `read(2)` on that thread is shown to fail with EINTR (so the set-up really interrupts reads),
/// then ``FileDescriptor/readSome(into:)`` is shown to ride through the same interruptions and return the data.
enum InterruptedRead {
    /// Signals the handler has seen (written only by the handler, read after the reader thread is joined).
    nonisolated(unsafe) static var handled = 0

    /// What the reader thread saw. Written by the reader, read after pthread_join (which orders the accesses).
    final class Shared {
        let pipe: Pipe
        var rawResult = 0
        var rawErrno: Int32 = 0
        var result: Result<IOResult<Int>, SystemError>?
        var bytes: [UInt8] = []
        init(pipe: Pipe) { self.pipe = pipe }
    }

    static func run() throws {
        var action = sigaction()
        action.__sigaction_handler.sa_handler = { _ in InterruptedRead.handled += 1 }
        action.sa_flags = 0  // no SA_RESTART: a blocking read returns EINTR
        sigemptyset(&action.sa_mask)
        var previous = sigaction()
        #expect(sigaction(SIGUSR2, &action, &previous) == 0)
        defer { sigaction(SIGUSR2, &previous, nil) }

        let shared = Shared(pipe: try Pipe())
        defer { shared.pipe.readEnd.close() }
        var thread = pthread_t()
        let context = Unmanaged.passRetained(shared).toOpaque()
        let created = pthread_create(&thread, nil, { context in
            let shared = Unmanaged<InterruptedRead.Shared>.fromOpaque(context!).takeRetainedValue()
            // Threads inherit their creator's mask, and the test runner's worker threads block SIGUSR2.
            var usr2 = sigset_t()
            sigemptyset(&usr2)
            sigaddset(&usr2, SIGUSR2)
            pthread_sigmask(SIG_UNBLOCK, &usr2, nil)
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64, alignment: 8)
            defer { buffer.deallocate() }
            shared.rawResult = Glibc.read(shared.pipe.readEnd.rawValue, buffer.baseAddress, buffer.count)
            shared.rawErrno = Glibc.errno
            shared.result = Result { () throws(SystemError) in try shared.pipe.readEnd.readSome(into: buffer) }
            if case .success(.processed(let n)) = shared.result { shared.bytes = Array(buffer.prefix(n)) }
            return nil
        }, context)
        try #require(created == 0)

        // Phase one: interrupt the raw read (resent until it returns, in case the thread started late).
        Clock.sleep(.milliseconds(30))
        let before = handled
        for _ in 0..<200 {
            pthread_kill(thread, SIGUSR2)
            Clock.sleep(.milliseconds(10))
            if handled > before { break }
        }
        // Phase two: the reader is (soon) in readSome; interrupt it several times, then give it data.
        Clock.sleep(.milliseconds(30))
        let phaseTwoStart = handled
        for _ in 0..<5 {
            pthread_kill(thread, SIGUSR2)
            Clock.sleep(.milliseconds(10))
        }
        let signalsDuringRead = handled - phaseTwoStart
        try shared.pipe.writeEnd.writeAll(Array("hello".utf8))
        // End of file after the data: a reader that somehow missed it fails the test instead of hanging it.
        shared.pipe.writeEnd.close()
        #expect(pthread_join(thread, nil) == 0)

        #expect(shared.rawResult == -1 && shared.rawErrno == EINTR, "the set-up did not interrupt a raw read")
        #expect(signalsDuringRead >= 1)
        switch shared.result {
        case .success(let result): #expect(result == .processed(5))
        case .failure(let error): Issue.record("readSome failed: \(error)")
        case nil: Issue.record("the reader never finished")
        }
        #expect(shared.bytes == Array("hello".utf8))
    }
}
