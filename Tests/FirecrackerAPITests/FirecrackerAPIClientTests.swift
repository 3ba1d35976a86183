import FirecrackerAPI
import Foundation
import LinuxSystem
import Testing

/// The API client against a scripted stub server (``StubHTTPServer``): the unit rung under the simulator.
@Suite struct FirecrackerAPIClientTests {
    @Test func putSendsJSONWithContentLengthAndAccepts204() throws {
        let server = try StubHTTPServer(script: [.status(204)])
        let client = FirecrackerAPIClient(socketPath: server.path)
        try client.put("/vsock", FirecrackerAPI.Vsock(guestCid: 3, udsPath: "/run/v.sock"))
        let request = try #require(server.requests.first)
        #expect(request.requestLine == "PUT /vsock HTTP/1.1")
        #expect(request.header("Content-Type") == "application/json")
        #expect(request.header("Content-Length") == "\(request.body.count)")
        #expect(String(decoding: request.body, as: UTF8.self) == "{\"guest_cid\":3,\"uds_path\":\"/run/v.sock\"}")
        #expect(client.log.map { "\($0.method) \($0.path) \($0.status)" } == ["PUT /vsock 204"])
    }

    @Test func faultMessageOfA400IsQuotedVerbatim() throws {
        let fault = "The requested operation is not supported after starting the microVM."
        let server = try StubHTTPServer(script: [.status(400, body: "{\"fault_message\":\"\(fault)\"}")])
        let client = FirecrackerAPIClient(socketPath: server.path)
        do {
            try client.put("/machine-config", FirecrackerAPI.MachineConfig(vcpuCount: 2, memSizeMib: 256))
            Issue.record("a 400 was accepted")
        } catch {
            #expect(error.code == .rejected)
            #expect(error.status == 400)
            #expect(error.message.hasSuffix(fault), "\(error.message)")
        }
    }

    @Test func slowPartialAnswersAreReassembled() throws {
        let body = "{\"fault_message\":\"slow\"}"
        let server = try StubHTTPServer(script: [
            .pieces(["HTTP/1.1 2", "04 \r\nServer: Fire", "cracker API\r\n", "\r\n"], pause: .milliseconds(50)),
            .pieces(["HTTP/1.1 400 \r\nContent-Length: \(body.utf8.count)\r\n\r\n{\"fault_", "message\":\"slow\"}"],
                    pause: .milliseconds(100)),
        ])
        let client = FirecrackerAPIClient(socketPath: server.path)
        try client.put("/entropy", FirecrackerAPI.Entropy())
        #expect(throws: FirecrackerAPIError.self) { try client.put("/entropy", FirecrackerAPI.Entropy()) }
        #expect(client.log.map(\.status) == [204, 400], "the keep-alive connection carried both requests")
        #expect(server.requests.count == 2)
    }

    @Test func anUnansweredRequestTimesOut() throws {
        let server = try StubHTTPServer(script: [.silence])
        let client = FirecrackerAPIClient(socketPath: server.path)
        client.requestTimeout = .milliseconds(300)
        let started = ContinuousClock.now
        do {
            try client.put("/actions", FirecrackerAPI.Action.sendCtrlAltDel)
            Issue.record("no answer was accepted")
        } catch {
            #expect(error.code == .timedOut)
        }
        let elapsed = ContinuousClock.now - started
        #expect(elapsed >= .milliseconds(300) && elapsed < .seconds(3), "\(elapsed)")
    }

    @Test func waitUntilReadyNeedsAnAnswerToGET() throws {
        let server = try StubHTTPServer(script: [.status(200, body: "{}")])
        let client = FirecrackerAPIClient(socketPath: server.path)
        try client.waitUntilReady(deadline: Clock.deadline(after: .seconds(5)), vmmAlive: { true })
        #expect(server.requests.first?.requestLine == "GET / HTTP/1.1")
        let gone = FirecrackerAPIClient(socketPath: server.path + ".missing")
        #expect(throws: FirecrackerAPIError.self) { try gone.waitUntilReady(deadline: Clock.deadline(after: .seconds(5)), vmmAlive: { false }) }
    }

    /// The event-loop request: the loop keeps turning (a timer fires) while the answer is outstanding, and
    /// the completion runs once with the answer; a silent server ends in `timedOut`.
    @Test func loopRequestNeverBlocksTheLoop() throws {
        let server = try StubHTTPServer(script: [
            .status(204),
            .pieces(["HTTP/1.1 204 \r\n", "\r\n"], pause: .milliseconds(300)),
            .silence,
        ])
        let client = FirecrackerAPIClient(socketPath: server.path)
        try client.put("/logger", FirecrackerAPI.Logger(logPath: "/dev/null"))  // opens the keep-alive connection
        let loop = try EventLoop()
        var ticks = 0
        func tick() { ticks += 1; loop.addTimer(after: .milliseconds(20)) { tick() } }
        tick()
        var results: [String] = []
        client.send("PUT", "/actions", FirecrackerAPI.Action.sendCtrlAltDel, on: loop, timeout: .seconds(5)) { result in
            results.append((try? result.get()).map { "\($0.status)" } ?? "error")
            let ticksWhileWaiting = ticks
            client.send("PUT", "/actions", FirecrackerAPI.Action.sendCtrlAltDel, on: loop, timeout: .milliseconds(400)) { result in
                if case .failure(let error) = result { results.append("\(error.code)") }
                #expect(ticks > ticksWhileWaiting + 5, "the loop stalled during the unanswered request")
                loop.stop()
            }
        }
        loop.addTimer(after: .seconds(10)) { loop.stop() }
        try loop.run()
        #expect(results == ["204", "timedOut"])
        #expect(ticks > 10, "the loop stalled while the answer was outstanding (\(ticks) ticks)")
        let fresh = FirecrackerAPIClient(socketPath: server.path)
        var failure: FirecrackerAPIError?
        fresh.send("PUT", "/actions", FirecrackerAPI.Action.sendCtrlAltDel, on: loop, timeout: .seconds(1)) {
            if case .failure(let error) = $0 { failure = error }
        }
        #expect(failure?.code == .unreachable, "without an open connection it fails at once instead of connecting")
    }
}
