import Glibc
@testable import LinuxSystem
import Testing

/// EventLoop: timers, descriptor re-arming, posts and signalfd delivery.
struct EventLoopTests {
    /// Runs `body(loop)` then the loop, with a 5 s safety timer so a broken test fails instead of hanging.
    private func runLoop(_ body: (EventLoop) throws -> Void) throws {
        let loop = try EventLoop()
        try body(loop)
        var timedOut = false
        loop.addTimer(after: .seconds(5)) { timedOut = true; loop.stop() }
        try loop.run()
        #expect(!timedOut, "the loop did not stop by itself")
    }

    @Test func timersFireInDeadlineOrderNotInsertionOrder() throws {
        var fired: [Int] = []
        try runLoop { loop in
            loop.addTimer(after: .milliseconds(30)) { fired.append(30); loop.stop() }
            loop.addTimer(after: .milliseconds(10)) { fired.append(10) }
            loop.addTimer(after: .milliseconds(20)) { fired.append(20) }
            loop.addTimer(after: .milliseconds(10)) { fired.append(11) }  // equal deadline: after the first 10
        }
        #expect(fired == [10, 11, 20, 30])
    }

    @Test func timerWaitsAtLeastItsDelay() throws {
        let start = Clock.now()
        try runLoop { loop in loop.addTimer(after: .milliseconds(40)) { loop.stop() } }
        #expect(start.elapsed >= .milliseconds(39))
    }

    @Test func cancelledTimerNeverFires() throws {
        var fired: [String] = []
        try runLoop { loop in
            let doomed = loop.addTimer(after: .milliseconds(10)) { fired.append("cancelled") }
            loop.addTimer(after: .milliseconds(30)) { fired.append("kept"); loop.stop() }
            loop.cancelTimer(doomed)
            loop.cancelTimer(doomed)  // a second cancel of the same id is ignored
        }
        #expect(fired == ["kept"])
    }

    @Test func timerCanReArmItselfAndCancelFromAnotherTimer() throws {
        var ticks = 0
        try runLoop { loop in
            var pending: EventLoop.TimerID?
            func tick() {
                ticks += 1
                if ticks == 3 { loop.stop(); return }
                pending = loop.addTimer(after: .milliseconds(5)) { tick() }
            }
            pending = loop.addTimer(after: .milliseconds(5)) { tick() }
            // A cancel issued after the re-armed timer replaced the first id leaves the new one alone.
            let first = pending
            loop.addTimer(after: .milliseconds(7)) { if let first { loop.cancelTimer(first) } }
        }
        #expect(ticks == 3)
    }

    /// An owner whose pending timer and post hold it (through the loop the owner holds) is freed once the loop's
    /// pending work is discarded, and nothing discarded runs.
    @Test func discardedTimersAndPostsReleaseWhatTheyHoldAndNeverRun() throws {
        final class Owner {
            let loop: EventLoop
            init() throws { loop = try EventLoop() }
        }
        var fired: [String] = []
        var owner: Owner? = try Owner()
        weak let watched = owner
        let loop = try #require(owner).loop
        if let strong = owner {
            loop.addTimer(after: .milliseconds(1)) { _ = strong; fired.append("timer") }
            loop.post { _ = strong; fired.append("post") }
        }
        owner = nil
        #expect(watched != nil, "the pending handlers keep their owner alive")
        loop.discardPendingWork()
        #expect(watched == nil, "still held after discardPendingWork")
        loop.addTimer(after: .milliseconds(20)) { loop.stop() }
        try loop.run()
        #expect(fired.isEmpty, "\(fired)")
    }

    @Test func postRunsOnTheNextIterationInOrder() throws {
        var order: [String] = []
        try runLoop { loop in
            loop.post { order.append("first") }
            loop.post { order.append("second"); loop.stop() }
            order.append("before run")
        }
        #expect(order == ["before run", "first", "second"])
    }

    /// A post from a descriptor's handler runs in the same turn, before the loop waits again (no extra
    /// epoll_wait per post), so before a timer that is already due; and a handler that keeps posting itself
    /// never keeps descriptors from being polled.
    @Test func postsRunAtTheEndOfTheTurnAndNeverStarveDescriptors() throws {
        let first = try Pipe(nonBlocking: true), second = try Pipe(nonBlocking: true)
        defer { first.close(); second.close() }
        try first.writeEnd.writeAll([1])
        var order: [String] = []
        var spins = 0
        try runLoop { loop in
            try loop.register(first.readEnd, interest: .read) { _ in
                order.append("first readable")
                loop.unregister(first.readEnd)
                loop.addTimer(after: .zero) { order.append("due timer") }
                loop.post { order.append("posted in that turn") }
                // Becomes readable only now: its handler can run no earlier than the next turn.
                do { try second.writeEnd.writeAll([2]) } catch { Issue.record("\(error)") }
                func spin() { spins += 1; loop.post(spin) }
                loop.post(spin)
            }
            try loop.register(second.readEnd, interest: .read) { _ in
                order.append("second readable")
                loop.unregister(second.readEnd)
                loop.stop()
            }
        }
        #expect(order == ["first readable", "posted in that turn", "due timer", "second readable"])
        #expect(spins >= 1 && spins <= 2, "a self-posting handler ran \(spins) times before the next poll")
    }

    @Test func disarmedDescriptorIsSilentUntilReArmed() throws {
        let pipe = try Pipe(nonBlocking: true)
        defer { pipe.close() }
        try pipe.writeEnd.writeAll([1, 2, 3])
        var reads = 0
        var armedAt: Clock.Instant?
        try runLoop { loop in
            try loop.register(pipe.readEnd, interest: []) { events in
                #expect(events.contains(.readable))
                reads += 1
                #expect(armedAt != nil, "handler ran while disarmed")
                loop.unregister(pipe.readEnd)
                loop.stop()
            }
            // Readable data is waiting, yet nothing must fire before the interest comes back.
            loop.addTimer(after: .milliseconds(30)) {
                armedAt = Clock.now()
                do { try loop.modify(pipe.readEnd, interest: .read) } catch { Issue.record("\(error)") }
            }
        }
        #expect(reads == 1)
        #expect(throws: SystemError.self) { try EventLoop().modify(pipe.readEnd, interest: .read) }
    }

    @Test func registeringTwiceIsAnError() throws {
        let loop = try EventLoop()
        let pipe = try Pipe()
        defer { pipe.close() }
        try loop.register(pipe.readEnd, interest: .read) { _ in }
        #expect(loop.interest(of: pipe.readEnd) == .read)
        #expect { try loop.register(pipe.readEnd, interest: .read) { _ in } } throws: { error in
            (error as? SystemError)?.errno == EEXIST
        }
        loop.unregister(pipe.readEnd)
        #expect(loop.interest(of: pipe.readEnd) == nil)
    }

    @Test func signalArrivesThroughSignalfd() throws {
        // onSignal blocks SIGUSR1 on this thread; raise() directs it at this thread, so no other test thread
        // can take it. The mask is restored afterwards for whatever runs next on this thread.
        var saved = sigset_t()
        pthread_sigmask(SIG_SETMASK, nil, &saved)
        defer { pthread_sigmask(SIG_SETMASK, &saved, nil) }
        var delivered: [EventLoop.SignalInfo] = []
        try runLoop { loop in
            try loop.onSignal(SIGUSR1) { info in
                delivered.append(info)
                loop.stop()
            }
            loop.post { raise(SIGUSR1) }
        }
        #expect(delivered.count == 1)
        #expect(delivered.first?.signal == SIGUSR1)
        #expect(delivered.first?.pid == getpid())
    }
}
