// libFuzzer target (d): the Firecracker API response parser. Byte 0 picks the chunking; the rest is what the
// API socket sends. Checks: no trap, bounded output, and the parser's answer does not depend on how the bytes
// were split (one append vs. chunked appends with next() after each).

import FirecrackerAPI

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHTTPResponse(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard size > 0 else { return 0 }
    let control = data[0]
    let stream = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))

    func run(chunk: Int) -> [String] {
        var parser = HTTPResponseParser()
        var seen: [String] = []
        var offset = 0
        repeat {
            let end = min(stream.count, offset + chunk)
            parser.append(stream[offset..<end])
            offset = end
            let eof = offset == stream.count
            do {
                while let response = try parser.next(eof: eof) {
                    precondition((100...599).contains(response.status))
                    precondition(response.body.count <= HTTPResponseParser.maxBodyBytes)
                    seen.append("\(response.status) \(response.body.count)")
                    if seen.count > stream.count { preconditionFailure("more responses than bytes") }
                }
            } catch {
                seen.append("error")
                return seen
            }
        } while offset < stream.count
        return seen
    }
    let whole = run(chunk: max(stream.count, 1))
    let chunked = run(chunk: Int(control % 16) + 1)
    // Chunked parsing may stop early at an error the whole-buffer parse also reaches; otherwise they agree.
    if !chunked.contains("error") && !whole.contains("error") {
        precondition(whole == chunked, "split-dependent parse: \(whole) vs \(chunked)")
    }
    return 0
}
