#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// JSON decoding whose failures read as one line: `what: where: what went wrong`.
enum JSONDiagnostics {
    static func decode<T: Decodable>(_ type: T.Type, from bytes: [UInt8], what: String,
                                     code: OCIError.Code) throws(OCIError) -> T {
        // The strict scan first: JSONDecoder accepts a trailing comma that Go's decoder, and so runc, refuses,
        // and it names no position.
        if let position = JSONPosition.firstError(in: bytes) {
            throw OCIError(code, "\(what): invalid JSON at \(position)")
        }
        do {
            return try JSONDecoder().decode(type, from: Data(bytes))
        } catch let error as DecodingError {
            throw OCIError(code, "\(what): " + describe(error), cause: OpaqueError(error))
        } catch {
            throw OCIError(code, "\(what) is not valid JSON", cause: OpaqueError(error))
        }
    }

    /// A `DecodingError` as `where: what`.
    static func describe(_ error: DecodingError) -> String {
        switch error {
        case .typeMismatch(let type, let context):
            return "\(keyPath(context.codingPath)): expected \(typeName(type))"
        case .valueNotFound(let type, let context):
            return "\(keyPath(context.codingPath)): expected \(typeName(type)), found null"
        case .keyNotFound(let key, let context):
            return "\(keyPath(context.codingPath + [key])) is missing"
        case .dataCorrupted(let context) where context.codingPath.isEmpty:
            return context.debugDescription
        case .dataCorrupted(let context):
            return "\(keyPath(context.codingPath)): \(context.debugDescription)"
        @unknown default:
            return "cannot be decoded"
        }
    }

    /// `process.rlimits[0].type`.
    static func keyPath(_ path: [any CodingKey]) -> String {
        guard !path.isEmpty else { return "top level" }
        var text = ""
        for key in path {
            if let index = key.intValue { text += "[\(index)]" } else { text += (text.isEmpty ? "" : ".") + key.stringValue }
        }
        return text
    }

    private static func typeName(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Bool.Type: "a boolean"
        case is Int.Type, is Int64.Type: "an integer"
        case is UInt.Type, is UInt32.Type, is UInt64.Type: "a non-negative integer"
        case is [String: Any].Type: "an object"
        case is [Any].Type: "an array"
        default: "a \(type)"
        }
    }

    /// Refuses keys outside `known` in the object being decoded: for the runtime's own files, where a misspelt
    /// key silently ignored would be a default silently used.
    static func rejectUnknownKeys(_ decoder: any Decoder, known: Set<String>) throws {
        let container = try decoder.container(keyedBy: AnyKey.self)
        for key in container.allKeys where !known.contains(key.stringValue) {
            throw DecodingError.dataCorrupted(DecodingError.Context(
                codingPath: decoder.codingPath + [key],
                debugDescription: "unknown key (known: \(known.sorted().joined(separator: ", ")))"))
        }
    }

    struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }
}

/// Carries an error that is not Sendable (`DecodingError` holds coding keys) as a cause, by its description.
struct OpaqueError: Error, Sendable, CustomStringConvertible {
    var description: String
    init(_ error: any Error) { description = String(describing: error) }
}
