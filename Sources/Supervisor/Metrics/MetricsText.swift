/// Prometheus' text exposition format (version 0.0.4), written by hand: a few families of gauges, counters and one
/// histogram do not need swift-prometheus/swift-metrics (not linked: see README "Health and metrics").
struct MetricsText {
    private(set) var text = ""
    private var described: Set<String> = []

    enum Kind: String { case gauge, counter, histogram }

    /// One sample; the family's HELP and TYPE lines are written before its first sample.
    mutating func sample(_ name: String, _ kind: Kind, _ help: String, labels: [(String, String)] = [], _ value: Double,
                         suffix: String = "") {
        if described.insert(name).inserted {
            text += "# HELP \(name) \(help)\n# TYPE \(name) \(kind.rawValue)\n"
        }
        text += name + suffix
        if !labels.isEmpty {
            text += "{" + labels.map { "\($0.0)=\"\(Self.escape($0.1))\"" }.joined(separator: ",") + "}"
        }
        text += " " + Self.format(value) + "\n"
    }

    /// A histogram from cumulative bucket counts (upper bounds in seconds), its sum and count.
    mutating func histogram(_ name: String, _ help: String, labels: [(String, String)], bounds: [Double], counts: [UInt64],
                            sum: Double, count: UInt64) {
        for (bound, cumulative) in zip(bounds, counts) {
            sample(name, .histogram, help, labels: labels + [("le", Self.format(bound))], Double(cumulative), suffix: "_bucket")
        }
        sample(name, .histogram, help, labels: labels + [("le", "+Inf")], Double(count), suffix: "_bucket")
        sample(name, .histogram, help, labels: labels, sum, suffix: "_sum")
        sample(name, .histogram, help, labels: labels, Double(count), suffix: "_count")
    }

    static func escape(_ value: String) -> String {
        var out = ""
        for character in value {
            switch character {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.append(character)
            }
        }
        return out
    }

    /// Integers without a fraction (byte counts stay exact), others as Swift prints doubles (Go parses both).
    static func format(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return "\(value)"
    }
}
