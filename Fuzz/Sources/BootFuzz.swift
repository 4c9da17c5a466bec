// Internals too: the GRUB check compares against the exact words the renderer meant to write.
@testable import DployRender
import DploySpec

/// The boot-script renderers (iPXE, pxelinux, GRUB, an installer template) on a machine and
/// profile whose text fields come from the bytes.
///
/// The fields go into a spec, which the loader validates: a spec it refuses is the right
/// answer. A spec it accepts is rendered twice, with the fuzzed fields and with plain ones
/// under the same options, and the two outputs must have the same shape: as many lines,
/// each starting with the same command, no control character, and as many iPXE `&&`/`||`
/// operators. A field's content can lengthen a line but never add a line or a command.
/// GRUB's lines are read back with GRUB's quoting rules and must give exactly the words
/// the renderer meant.
enum BootFuzz {
    /// An options byte, then text fields separated by 0xFF, a byte UTF-8 never uses. A
    /// field left out keeps its plain value, so short inputs are valid specs.
    struct Input {
        var loader: BootLoader = .ipxe
        var installer: Installer.Kind = .preseed
        var generation = 0
        var machine = "web-01"
        var profile = "debian-12"
        var kernel = "http://198.18.0.1:8080/files/linux"
        var initrd = "http://198.18.0.1:8080/files/initrd.gz"
        var args: String? = "auto=true priority=critical"
        var kernelArgs: String? = "console=ttyS1,115200n8"
        var server = "http://198.18.0.1:8080"
        var hostname: String? = "web-01.lab.example.net"

        /// The same options with every text field plain.
        var plain: Input { Input(loader: loader, installer: installer, generation: generation) }

        init(loader: BootLoader = .ipxe, installer: Installer.Kind = .preseed, generation: Int = 0) {
            self.loader = loader
            self.installer = installer
            self.generation = generation
        }

        init(_ bytes: [UInt8]) {
            let options = Int(bytes.first ?? 0)
            self.init(loader: [.ipxe, .pxelinux, .grub, .ipxe][options & 3],
                      installer: [.preseed, .kickstart, .autoinstall, .none][(options >> 2) & 3],
                      generation: options >> 4)
            let fields = bytes.dropFirst().split(separator: 0xFF, omittingEmptySubsequences: false)
                .map { String(decoding: $0, as: UTF8.self) }
            func field(_ index: Int) -> String? { index < fields.count ? fields[index] : nil }
            machine = field(0) ?? machine
            profile = field(1) ?? profile
            kernel = field(2) ?? kernel
            initrd = field(3) ?? initrd
            args = field(4) ?? args
            kernelArgs = field(5) ?? kernelArgs
            server = field(6) ?? server
            hostname = field(7) ?? hostname
        }

        var yaml: String {
            let q = BootFuzz.quoted
            var profileSpec = """
                apiVersion: dploy.org/v1
                kind: Profile
                metadata: {name: \(q(profile))}
                spec:
                  loader: \(loader.rawValue)
                  boot: {kernel: \(q(kernel)), initrd: \(q(initrd))\(args.map { ", args: \(q($0))" } ?? "")}

                """
            if installer != .none { profileSpec += "  installer: {kind: \(installer.rawValue), template: t/installer}\n" }
            var machineSpec = "mac: \"94:18:82:3a:5c:10\", ip: 198.18.0.21, profile: \(q(profile)), generation: \(generation)"
            if let hostname { machineSpec += ", hostname: \(q(hostname))" }
            if let kernelArgs { machineSpec += ", kernelArgs: \(q(kernelArgs))" }
            return profileSpec + """
                ---
                apiVersion: dploy.org/v1
                kind: Machine
                metadata: {name: \(q(machine))}
                spec: {\(machineSpec)}

                """
        }
    }

    /// A YAML double-quoted scalar holding `text` exactly: anything but printable ASCII escaped.
    static func quoted(_ text: String) -> String {
        var result = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case " "..."~": result.unicodeScalars.append(scalar)
            default:
                let (escape, width) = scalar.value <= 0xFF ? ("x", 2) : scalar.value <= 0xFFFF ? ("u", 4) : ("U", 8)
                let hex = String(scalar.value, radix: 16)
                result += "\\" + escape + String(repeating: "0", count: width - hex.count) + hex
            }
        }
        return result + "\""
    }

    static let key = CallbackKey(bytes: Array(0..<32))
    /// One line per variable, so a value that adds a line shows.
    static let template = InstallerTemplate.variables.map { "\($0)={{\($0)}}" }.joined(separator: "\n") + "\n"

    struct Output {
        var label: String
        var text: String
    }

    struct Rendered {
        var outputs: [Output]
        var grub: String
        var kernel: String
        var initrd: String
        var arguments: String
    }

    static func run(_ bytes: [UInt8]) {
        let input = Input(bytes)
        guard let fuzzed = render(input) else { return }
        guard let plain = render(input.plain) else { FuzzCheck.fail("the plain spec does not load:\n\(input.plain.yaml)") }
        for (mine, theirs) in zip(fuzzed.outputs, plain.outputs) { compareShapes(mine, theirs) }
        checkGRUB(fuzzed)
    }

    /// Every output for the input, or nil when the loader (or the config's URL check) refuses it.
    static func render(_ input: Input) -> Rendered? {
        let result = SpecLoader().load([SpecFile(path: "fuzz.yaml", text: input.yaml)])
        guard result.isValid, case .success(let url) = Names.httpURL(input.server) else { return nil }
        guard let machine = result.fleet.machines.first, let profile = result.fleet.profiles.first,
              case .boot(let kernel, let initrd, let args) = profile.source else {
            FuzzCheck.fail("a valid spec lost its machine or profile:\n\(input.yaml)")
        }
        let effective = DefaultsResolver(groups: []).resolve(machine)
        let server = BootServer(url: url, callbackKey: key)
        var outputs: [Output] = [Output(label: "ipxe entry", text: IPXEScript.entry(server: server))]
        for (name, intent) in [("install", BootIntent.install(profile)), ("local", .localDisk)] {
            outputs += [
                Output(label: "ipxe \(name)", text: IPXEScript.machine(effective, intent: intent, server: server)),
                Output(label: "pxelinux \(name)", text: PXELinuxConfig.machine(effective, intent: intent, server: server)),
                Output(label: "grub \(name)", text: GRUBConfig.machine(effective, intent: intent, server: server)),
            ]
        }
        do {
            let installer = try InstallerTemplate(path: "t/installer", text: template)
            outputs.append(Output(label: "installer", text: try installer.render(for: effective, profile: profile, server: server)))
        } catch {
            FuzzCheck.fail("the installer template does not render: \(error)")
        }
        return Rendered(outputs: outputs, grub: GRUBConfig.machine(effective, intent: .install(profile), server: server),
                        kernel: kernel, initrd: initrd,
                        arguments: KernelCommandLine.arguments(profile: profile, args: args, machine: effective, server: server))
    }

    static func lines(_ text: String) -> [Substring] { text.split(separator: "\n", omittingEmptySubsequences: false) }

    static func words(_ line: Substring) -> [String] {
        line.unicodeScalars.split(separator: " ").map { String(String.UnicodeScalarView($0)) }
    }

    /// What a line starts with, whatever the fields: its command, or an installer line's `name=`.
    /// Scalars, not characters: a field starting with a combining mark joins the `=` before it.
    static func head(_ line: Substring) -> String? {
        words(line).first.map { String(String.UnicodeScalarView($0.unicodeScalars.prefix { $0 != "=" })) }
    }

    static func compareShapes(_ mine: Output, _ plain: Output) {
        let mineLines = lines(mine.text), plainLines = lines(plain.text)
        FuzzCheck.require(mineLines.count == plainLines.count,
                          "\(mine.label): \(mineLines.count) lines, \(plainLines.count) for plain fields:\n\(mine.text)")
        for (line, plainLine) in zip(mineLines, plainLines) {
            FuzzCheck.require(FuzzCheck.isOneLine(line), "\(mine.label): control character in \(line.debugDescription)")
            FuzzCheck.require(head(line) == head(plainLine),
                              "\(mine.label): line \(line.debugDescription) where plain fields give \(plainLine.debugDescription)")
        }
        // iPXE runs `a && b` and `a || b` as two commands (so does ipxe.lkrn's APPEND line).
        func operators(_ text: String) -> Int { lines(text).flatMap(words).count { $0 == "&&" || $0 == "||" } }
        FuzzCheck.require(operators(mine.text) == operators(plain.text),
                          "\(mine.label): a field adds an iPXE && or || operator:\n\(mine.text)")
    }

    /// The install entry's `linux` and `initrd` lines, read as GRUB reads them, give the
    /// kernel, the initrd and the kernel arguments, each a word of its own.
    static func checkGRUB(_ rendered: Rendered) {
        let lines = lines(rendered.grub)
        guard let linux = lines.first(where: { $0.hasPrefix("  linux ") }),
              let initrd = lines.first(where: { $0.hasPrefix("  initrd ") }) else { return }
        guard let linuxWords = grubWords(linux), let initrdWords = grubWords(initrd) else {
            FuzzCheck.fail("GRUB reads more than words in:\n\(linux)\n\(initrd)")
        }
        FuzzCheck.require(initrdWords == ["initrd", GRUBConfig.grubPath(rendered.initrd)], "GRUB reads \(initrdWords) from \(initrd)")
        // GRUB splits at every space, the renderer at spaces between characters (a space
        // followed by a combining mark is one character). Both give the kernel the same line,
        // which is what counts.
        let expected = rendered.arguments.unicodeScalars.split(separator: " ").map { String(String.UnicodeScalarView($0)) }
        FuzzCheck.require(linuxWords.count >= 2 && linuxWords[0] == "linux" && linuxWords[1] == GRUBConfig.grubPath(rendered.kernel)
                          && linuxWords.dropFirst(2).joined(separator: " ") == expected.joined(separator: " "),
                          "GRUB reads \(linuxWords) from \(linux), expected \(expected)")
    }

    /// GRUB's lexer, as far as a plain word goes, one Unicode scalar at a time as GRUB reads
    /// bytes: blanks separate words, '…' is literal, "…" takes backslash escapes, a backslash
    /// escapes the next character. Nil when GRUB would read more than words: an unquoted
    /// ; | & < > { } or $, a # starting a word, a $ inside double quotes, an open quote.
    static func grubWords(_ line: Substring) -> [String]? {
        let scalars = Array(line.unicodeScalars)
        var words: [String] = [], word = String.UnicodeScalarView(), inWord = false
        var index = 0
        while index < scalars.count {
            let scalar = scalars[index]
            switch scalar {
            case " ", "\t":
                if inWord { words.append(String(word)) }
                word = String.UnicodeScalarView()
                inWord = false
            case "'":
                guard let end = scalars[(index + 1)...].firstIndex(of: "'") else { return nil }
                word.append(contentsOf: scalars[(index + 1)..<end])
                index = end
                inWord = true
            case "\"":
                index += 1
                while index < scalars.count, scalars[index] != "\"" {
                    if scalars[index] == "$" { return nil }
                    if scalars[index] == "\\", index + 1 < scalars.count { index += 1 }
                    word.append(scalars[index])
                    index += 1
                }
                guard index < scalars.count else { return nil }
                inWord = true
            case "\\":
                guard index + 1 < scalars.count else { return nil }
                index += 1
                word.append(scalars[index])
                inWord = true
            case ";", "|", "&", "<", ">", "{", "}", "$":
                return nil
            case "#" where !inWord:
                return nil
            default:
                word.append(scalar)
                inWord = true
            }
            index += 1
        }
        if inWord { words.append(String(word)) }
        return words
    }
}
