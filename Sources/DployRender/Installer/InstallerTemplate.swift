import DploySpec
import Mustache

/// Renders a profile's installer template (preseed, kickstart, autoinstall) for a machine.
///
/// Values are inserted as written, never HTML-escaped (a URL with `&` must survive), and a
/// template that asks for a variable dploy does not provide is an error, not a blank.
public struct InstallerTemplate: Sendable {
    /// The variables every template may use.
    public static let variables = [
        "name", "machine.name", "hostname", "ip", "mac", "disk", "generation", "profile", "kernelArgs",
        "serverURL", "installerURL", "callbackURL",
    ]

    public let path: String
    let template: MustacheTemplate
    let text: String

    /// Parses a template; the error names the template's path, line and column.
    public init(path: String, text: String) throws(TemplateError) {
        self.path = path
        self.text = text
        do {
            // The pragma sits on line 1 ahead of the text, so lines keep their numbers.
            template = try MustacheTemplate(string: "{{% CONTENT_TYPE: TEXT}}" + text)
        } catch let error as MustacheTemplate.ParserError {
            let column = error.context.lineNumber == 1 ? max(1, error.context.columnNumber - 24) : error.context.columnNumber
            throw TemplateError(path: path, line: error.context.lineNumber, column: column,
                                message: "template syntax: \(error.error)")
        } catch {
            throw TemplateError(path: path, line: 1, column: 1, message: "template syntax: \(error)")
        }
    }

    /// The file name the installer fetches, per installer kind.
    public static func fileName(for kind: Installer.Kind) -> String? {
        switch kind {
        case .preseed: "preseed.cfg"
        case .kickstart: "ks.cfg"
        case .autoinstall: "user-data"
        case .none: nil
        }
    }

    public func render(for machine: EffectiveMachine, profile: Profile, server: BootServer) throws(TemplateError) -> String {
        let values: [String: String] = [
            "name": machine.name,
            "hostname": machine.settings.hostname ?? machine.name,
            "ip": machine.machine.ip?.value.description ?? "",
            "mac": machine.machine.mac.value.description,
            "disk": machine.settings.disk ?? "",
            "generation": String(machine.generation),
            "profile": profile.name,
            "kernelArgs": machine.settings.kernelArgs ?? "",
            "serverURL": server.url,
            "installerURL": server.installerURL(for: machine.name),
            "callbackURL": server.callbackURL(for: machine.machine.mac.value, generation: machine.generation),
        ]
        let context = TemplateVariables(values: values, nested: ["machine": TemplateVariables(values: ["name": machine.name])])
        let text = template.render(context)
        if let unknown = context.allUnknown.sorted().first {
            let (line, column) = location(of: unknown)
            throw TemplateError(path: path, line: line, column: column, message:
                "template uses '{{\(unknown)}}', which dploy does not provide; it provides \(Self.variables.joined(separator: ", "))")
        }
        // Answers files are read line by line (debconf, kickstart, the shell commands inside
        // them). Validation keeps line breaks out of spec values; a value that slipped past
        // is refused here rather than written as lines of its own.
        if let broken = context.usedNames.sorted().first(where: {
            values[$0]?.unicodeScalars.contains(where: Names.isControlOrLineBreak) ?? false
        }) {
            let (line, column) = location(of: broken)
            throw TemplateError(path: path, line: line, column: column, message:
                "'{{\(broken)}}' of \(machine.name) holds a line break or control character, which would add lines to the answers; dploy refuses to write it")
        }
        return text
    }
}

extension InstallerTemplate {
    /// Where `{{name}}` first appears (allowing `{{ name }}`, `{{&name}}`, `{{#name}}`), 1-based.
    func location(of name: String) -> (line: Int, column: Int) {
        var line = 1
        for text in text.split(separator: "\n", omittingEmptySubsequences: false) {
            var rest = text[...]
            while let open = rest.range(of: "{{") {
                let after = rest[open.upperBound...].drop { " &#^{/".contains($0) }
                if after.hasPrefix(name) {
                    return (line, text.distance(from: text.startIndex, to: open.lowerBound) + 1)
                }
                rest = rest[open.upperBound...]
            }
            line += 1
        }
        return (1, 1)
    }
}

/// The values a template sees; remembers every name it was asked for and did not have.
final class TemplateVariables: MustacheParent, @unchecked Sendable {
    let values: [String: String]
    let nested: [String: TemplateVariables]
    private(set) var unknownNames: Set<String> = []
    /// Names of `values` the template asked for.
    private(set) var usedNames: Set<String> = []

    init(values: [String: String], nested: [String: TemplateVariables] = [:]) {
        self.values = values
        self.nested = nested
    }

    func child(named name: String) -> Any? {
        if let value = values[name] {
            usedNames.insert(name)
            return value
        }
        if let child = nested[name] { return child }
        unknownNames.insert(name)
        return nil
    }

    var allUnknown: Set<String> { nested.values.reduce(unknownNames) { $0.union($1.unknownNames) } }
}

/// A template that cannot be parsed or rendered, located in the spec tree.
public struct TemplateError: Error, Hashable, Sendable, CustomStringConvertible {
    public var path: String
    public var line: Int
    public var column: Int
    public var message: String

    public var description: String { "\(path):\(line):\(column): error: \(message)" }

    /// A problem located in a spec file rather than a template (the planner's BIOS checks).
    public init(path: String, line: Int, column: Int, message: String) {
        self.path = path
        self.line = line
        self.column = column
        self.message = message
    }
}
