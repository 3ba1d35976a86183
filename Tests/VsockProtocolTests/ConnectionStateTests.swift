import Testing
@testable import VsockProtocol

/// Every rule in ``ConnectionState``'s documentation (PROTOCOL.md §7).
@Suite("Connection state machine")
struct ConnectionStateTests {
    private func hello(_ role: PeerRole, version: Int = ProtocolConstants.version) -> Message {
        .hello(Hello(version: version, role: role))
    }

    private func code(_ verdict: ConnectionState.Verdict) -> ErrorCode? {
        switch verdict {
        case .deliver: nil
        case .refuse(let e), .refuseAndClose(let e): e.code
        }
    }

    @Test func counterpartRoles() {
        #expect(ConnectionState(ownRole: .guest).peerRole == .host)
        #expect(ConnectionState(ownRole: .host).peerRole == .guest)
        #expect(ConnectionState(ownRole: .supervisor).peerRole == .client)
        #expect(ConnectionState(ownRole: .client).peerRole == .supervisor)
        #expect(PeerRole.allDefined.map(\.rawValue) == ["host", "guest", "client", "supervisor"])
        #expect(PeerRole(rawValue: "robot").expectedPeer == nil)
    }

    @Test func helloOpensTheConnection() {
        var state = ConnectionState(ownRole: .guest)
        #expect(state.phase == .awaitingHello && !state.isOpen)
        #expect(state.receive(hello(.host)) == .deliver)
        #expect(state.isOpen)
        #expect(state.peerHello?.role == .host)
        #expect(state.receive(.ping(Ping(id: 1))) == .deliver)
    }

    @Test func anythingBeforeHelloIsInvalidStateAndDropped() {
        var state = ConnectionState(ownRole: .guest)
        let exec = Message.exec(ExecRequest(session: 9, argv: ["true"]))
        guard case .refuse(let e) = state.receive(exec) else { Issue.record("not refused"); return }
        #expect(e.code == .invalidState && e.session == 9)
        #expect(code(state.receive(.ping(Ping(id: 1)))) == .invalidState)
        #expect(state.phase == .awaitingHello, "a refused frame does not close the connection")
        #expect(state.receive(hello(.host)) == .deliver)
    }

    @Test func errorIsAlwaysDeliveredAndNeverAnswered() {
        let error = Message.error(ErrorMessage(code: .internal, message: "x"))
        var before = ConnectionState(ownRole: .host)
        #expect(before.receive(error) == .deliver)
        #expect(before.phase == .awaitingHello)
        var open = ConnectionState(ownRole: .host)
        _ = open.receive(hello(.guest))
        #expect(open.receive(error) == .deliver)
    }

    @Test func otherVersionIsUnsupportedThenClose() {
        var state = ConnectionState(ownRole: .guest)
        guard case .refuseAndClose(let e) = state.receive(hello(.host, version: 2)) else {
            Issue.record("not refused and closed"); return
        }
        #expect(e.code == .unsupportedVersion && e.session == nil)
        #expect(state.phase == .closed && state.peerHello == nil)
    }

    @Test func wrongRoleIsInvalidStateThenClose() {
        for (own, wrong) in [(PeerRole.guest, PeerRole.guest), (.guest, .client), (.host, .host),
                             (.supervisor, .supervisor), (.supervisor, .host), (.client, .guest),
                             (.guest, PeerRole(rawValue: "robot"))] {
            var state = ConnectionState(ownRole: own)
            guard case .refuseAndClose(let e) = state.receive(hello(wrong)) else {
                Issue.record("\(own) accepted \(wrong)"); continue
            }
            #expect(e.code == .invalidState)
            #expect(state.phase == .closed)
        }
    }

    @Test func versionIsCheckedBeforeRole() {
        var state = ConnectionState(ownRole: .guest)
        #expect(code(state.receive(hello(.guest, version: 7))) == .unsupportedVersion)
    }

    @Test func secondHelloIsInvalidStateAndIgnored() {
        var state = ConnectionState(ownRole: .supervisor)
        #expect(state.receive(hello(.client)) == .deliver)
        let first = state.peerHello
        guard case .refuse(let e) = state.receive(.hello(Hello(role: .client, agent: "second"))) else {
            Issue.record("second hello not refused"); return
        }
        #expect(e.code == .invalidState)
        #expect(state.isOpen && state.peerHello == first)
        // Even a second hello with another version or role only gets invalid_state: the connection stays.
        #expect(code(state.receive(hello(.host, version: 9))) == .invalidState)
        #expect(state.isOpen)
    }

    @Test func closedRefusesEverythingButErrorStillIsNotAnswered() {
        var state = ConnectionState(ownRole: .guest)
        _ = state.receive(hello(.host))
        state.close()
        #expect(state.phase == .closed)
        #expect(code(state.receive(.ping(Ping(id: 1)))) == .invalidState)
        #expect(code(state.receive(hello(.host))) == .invalidState)
    }

    @Test func explicitPeerRole() {
        var state = ConnectionState(ownRole: .supervisor, peerRole: .client)
        #expect(state.receive(hello(.client)) == .deliver)
    }
}
