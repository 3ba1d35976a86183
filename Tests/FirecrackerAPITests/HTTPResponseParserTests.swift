import FirecrackerAPI
import Testing

/// The response parser, on the shapes Firecracker's micro_http sends and on broken input.
@Suite struct HTTPResponseParserTests {
    private func parse(_ text: String, eof: Bool = false) throws -> HTTPResponse? {
        var parser = HTTPResponseParser()
        parser.append(Array(text.utf8))
        return try parser.next(eof: eof)
    }

    @Test func noContentWithoutReasonPhrase() throws {
        let response = try #require(try parse("HTTP/1.1 204 \r\nServer: Firecracker API\r\nConnection: keep-alive\r\n\r\n"))
        #expect(response.status == 204)
        #expect(response.body.isEmpty)
        #expect(response.headers.first { $0.0 == "Server" }?.1 == "Firecracker API")
    }

    @Test func contentLengthFramesTheBodyAndLeavesTheNextResponse() throws {
        var parser = HTTPResponseParser()
        parser.append(Array("HTTP/1.1 400 \r\nContent-Length: 5\r\n\r\nhelloHTTP/1.1 204 \r\n\r\n".utf8))
        let first = try #require(try parser.next())
        #expect(first.status == 400 && first.body == Array("hello".utf8))
        let second = try #require(try parser.next())
        #expect(second.status == 204)
        #expect(try parser.next() == nil)
    }

    @Test func byteByByteGivesTheSameResponse() throws {
        let text = Array("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{\"a\":\"b c\"}".utf8)
        var parser = HTTPResponseParser()
        var result: HTTPResponse?
        for (index, byte) in text.enumerated() {
            parser.append([byte])
            result = try parser.next()
            if index < text.count - 1 { #expect(result == nil, "complete after \(index + 1) of \(text.count) bytes") }
        }
        #expect(result?.status == 200)
        #expect(result?.body == Array("{\"a\":\"b c\"}".utf8))
        #expect(result?.headers.first { $0.0 == "Content-Type" }?.1 == "application/json", "header value trimmed")
    }

    @Test func interimContinueIsSkipped() throws {
        let response = try #require(try parse("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 \r\n\r\n"))
        #expect(response.status == 204)
    }

    @Test func bodyWithoutLengthEndsAtEOF() throws {
        #expect(try parse("HTTP/1.1 200 OK\r\n\r\npartial") == nil)
        let response = try #require(try parse("HTTP/1.1 200 OK\r\n\r\npartial", eof: true))
        #expect(response.body == Array("partial".utf8))
    }

    @Test func brokenInputIsAnErrorNotATrap() {
        #expect(throws: HTTPResponseParser.ParseError.badStatusLine("SSH-2.0-OpenSSH")) { try parse("SSH-2.0-OpenSSH\r\n\r\n") }
        #expect(throws: HTTPResponseParser.ParseError.badStatusLine("HTTP/1.1 999 ")) { try parse("HTTP/1.1 999 \r\n\r\n") }
        #expect(throws: HTTPResponseParser.ParseError.badHeader("no colon here")) { try parse("HTTP/1.1 200 \r\nno colon here\r\n\r\n") }
        #expect(throws: HTTPResponseParser.ParseError.badHeader("Content-Length: -1")) {
            try parse("HTTP/1.1 200 \r\nContent-Length: -1\r\n\r\n")
        }
        #expect(throws: HTTPResponseParser.ParseError.bodyTooLarge(HTTPResponseParser.maxBodyBytes + 1)) {
            try parse("HTTP/1.1 200 \r\nContent-Length: \(HTTPResponseParser.maxBodyBytes + 1)\r\n\r\n")
        }
        #expect(throws: HTTPResponseParser.ParseError.headTooLarge) {
            try parse("HTTP/1.1 200 \r\nX: " + String(repeating: "a", count: HTTPResponseParser.maxHeadBytes + 1))
        }
    }

    @Test func requestsAlwaysCarryContentLength() {
        let request = String(decoding: HTTPRequestEncoder.encode(method: "PUT", path: "/vsock", body: Array("{}".utf8)),
                             as: UTF8.self)
        #expect(request == "PUT /vsock HTTP/1.1\r\nHost: localhost\r\nAccept: application/json\r\n"
                + "Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}")
        let get = String(decoding: HTTPRequestEncoder.encode(method: "GET", path: "/", body: nil), as: UTF8.self)
        #expect(!get.contains("Content-Length") && get.hasSuffix("\r\n\r\n"))
    }
}
