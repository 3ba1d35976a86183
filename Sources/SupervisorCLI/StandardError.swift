import Glibc

/// The one way the command line writes a diagnostic: one line on stderr, written in one `write(2)` so lines
/// from concurrent processes do not interleave.
public enum StandardError {
    public static func writeLine(_ line: String) {
        let bytes = Array((line + "\n").utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { write(2, $0.baseAddress.map { $0 + offset }, $0.count - offset) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return }
            offset += n
        }
    }
}
