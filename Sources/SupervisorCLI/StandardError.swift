import LinuxSystem

/// The one way the command line writes a diagnostic: one line on stderr, handed to `write(2)` whole so lines
/// from concurrent processes do not interleave.
public enum StandardError {
    public static func writeLine(_ line: String) {
        // Nowhere left to report a failing stderr to.
        try? FileDescriptor.standardError.writeAll(Array((line + "\n").utf8))
    }
}
