import Foundation
import Testing
@testable import VsockProtocol

/// Keeps Protocol/PROTOCOL.md and the JSON Schema in step with the code: every message type and error code
/// of this build is documented and described by the schema.
@Suite("Specification coverage")
struct SpecTests {
    @Test func protocolDocumentCoversEveryTypeAndErrorCode() throws {
        let text = String(decoding: try RepoFiles.read("Protocol/PROTOCOL.md"), as: UTF8.self)
        for type in Message.knownTypes {
            #expect(text.contains("`\(type)` |") || text.contains("`\(type)` / `"), "message table lists \(type)")
            #expect(text.contains("`\(type)` (") || text.contains("`\(type)` / ") || text.contains(" `\(type)` ("),
                    "a section documents \(type)")
        }
        for code in ErrorCode.allDefined {
            #expect(text.contains("| `\(code.rawValue)` |"), "error table lists \(code.rawValue)")
        }
        #expect(text.contains("port **\(ProtocolConstants.defaultVsockPort)**"))
        #expect(text.contains("version \(ProtocolConstants.version)"))
    }

    @Test func schemaHasOneDefinitionPerType() throws {
        let schema = try JSONDecoder().decode(JSONValue.self, from: RepoFiles.read("Protocol/schema/header.schema.json"))
        #expect(schema["$schema"]?.stringValue == "https://json-schema.org/draft/2020-12/schema")
        guard case .array(let oneOf)? = schema["oneOf"], case .object(let defs)? = schema["$defs"] else {
            Issue.record("schema has no oneOf/$defs"); return
        }
        var types: Set<String> = []
        for ref in oneOf {
            guard let path = ref["$ref"]?.stringValue, let name = path.split(separator: "/").last.map(String.init),
                  let def = defs[name], let constType = def["properties"]?["type"]?["const"]?.stringValue
            else { Issue.record("bad oneOf entry \(ref)"); continue }
            #expect(constType == name)
            types.insert(constType)
        }
        #expect(types == Message.knownTypes)
    }
}
