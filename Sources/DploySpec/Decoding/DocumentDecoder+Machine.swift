extension DocumentDecoder {
    func decodeMachine(_ spec: MappingReader, metadata: ObjectMeta) -> Machine? {
        let mac = spec.parsed("mac", required: true, MACAddress.parse)
        let ip = spec.parsed("ip", IPAddress.parse)
        var settings = decodeSettings(spec, isGroupDefault: false)
        siteLabel(metadata, into: &settings)
        guard let mac else { return nil }
        return Machine(metadata: metadata, mac: mac, ip: ip, settings: settings)
    }

    /// The inheritable machine fields, read from a Machine's spec or a Group's defaults.
    /// Identity (MAC, IP, BMC address) belongs to one machine and is refused in defaults.
    func decodeSettings(_ reader: MappingReader, isGroupDefault: Bool) -> MachineSettings {
        var settings = MachineSettings()
        func note<T>(_ key: String, _ value: Located<T>?) -> T? {
            if let value { settings.locations[key] = value.location }
            return value?.value
        }
        if isGroupDefault {
            for identity in ["mac", "ip"] where reader.has(identity) {
                log.append(Diagnostic("'\(reader.fieldPath(identity))' cannot be a group default: it identifies one machine",
                                      at: reader.location(of: identity)))
            }
        }
        settings.hostname = note("hostname", reader.parsed("hostname", Names.hostname))
        settings.profile = note("profile", reader.parsed("profile", Names.dnsLabel))
        settings.generation = note("generation", reader.int("generation", minimum: 0))
        settings.power = note("power", reader.choice("power", as: PowerPolicy.self))
        settings.firmware = note("firmware", reader.parsed("firmware", Names.dnsLabel))
        settings.disk = note("disk", reader.parsed("disk", Names.devicePath))
        settings.kernelArgs = note("kernelArgs", reader.parsed("kernelArgs", Names.kernelArguments))
        settings.site = note("site", reader.parsed("site", Names.dnsLabel))

        if let bios = reader.mapping("bios") {
            settings.bios = note("bios.attributes", decodeBIOSAttributes(bios, locations: &settings.locations))
            bios.finish()
        }
        if let storage = reader.mapping("storage") {
            settings.storage = note("storage.logicalDrives", decodeStorage(storage))
            storage.finish()
        }
        settings.allowDestructive = note("allowDestructive", reader.bool("allowDestructive"))
        if let bmc = reader.mapping("bmc") {
            var settingsBMC = BMCSettings()
            if isGroupDefault {
                for field in ["address", "pinnedKey", "fingerprint"] where bmc.has(field) {
                    log.append(Diagnostic("'\(bmc.fieldPath(field))' cannot be a group default: it identifies one machine's BMC",
                                          at: bmc.location(of: field)))
                }
            } else {
                settingsBMC.address = note("bmc.address", bmc.parsed("address", required: true, Names.httpURL))
                settingsBMC.pinnedKey = note("bmc.pinnedKey", bmc.parsed("pinnedKey", Names.pinnedKey))
                settingsBMC.fingerprint = note("bmc.fingerprint", bmc.parsed("fingerprint", CertificateFingerprint.parse))
            }
            settingsBMC.credentials = note("bmc.credentials", bmc.parsed("credentials", Names.dnsLabel))
            settingsBMC.insecure = note("bmc.insecure", bmc.bool("insecure"))
            settingsBMC.caFile = note("bmc.caFile", bmc.string("caFile"))
            bmc.finish()
            settings.bmc = settingsBMC
        }
        return settings
    }

    /// A machine's `site` label says what `spec.site` says: a group can select a site's
    /// machines by the label, and the controller of that site converges them. The two may
    /// both be written only when they agree.
    private func siteLabel(_ metadata: ObjectMeta, into settings: inout MachineSettings) {
        guard let label = metadata.labels["site"] else { return }
        guard case .success = Names.dnsLabel(label) else {
            log.append(Diagnostic("label 'site' must name a site (lowercase letters, digits and '-', at most 63 characters), found \(Names.quoted(label))",
                                  at: metadata.location))
            return
        }
        if let site = settings.site, site != label {
            log.append(Diagnostic("'spec.site' is '\(site)' but the label 'site' is '\(label)': write one, or make them agree",
                                  at: settings.locations["site"] ?? metadata.location))
        } else if settings.site == nil {
            settings.site = label
            settings.locations["site"] = metadata.location
        }
    }

    /// `bios.attributes`: names as the BIOS spells them, values strings, integers or booleans.
    /// Located at the mapping, so a group conflict points at it; where each name is written
    /// goes to `locations` as `bios.attributes.NAME`, so that a name or value the machine's
    /// BIOS refuses is an error at its own line (`BIOSCheck`).
    private func decodeBIOSAttributes(_ bios: MappingReader, locations: inout [String: SourceLocation]) -> Located<BIOSSettings>? {
        guard let entries = bios.scalarMap("attributes") else { return nil }
        var attributes: [String: BIOSValue] = [:]
        let path = bios.fieldPath("attributes")
        guard entries.count <= BIOSSettings.maxAttributes else {
            log.append(Diagnostic("'\(path)' sets \(entries.count) attributes; at most \(BIOSSettings.maxAttributes)",
                                  at: bios.location(of: "attributes")))
            return nil
        }
        for entry in entries {
            guard BIOSSettings.isValidName(entry.name) else {
                // At the name, and with anything but ASCII shown as an escape: a Kelvin sign
                // looks like a K, and the message must show why the name is refused.
                let shown = entry.name.unicodeScalars.map { scalar in
                    scalar == "\\" ? "\\\\" : scalar.isASCII && !Names.isControlOrLineBreak(scalar) ? String(scalar)
                        : "\\u{\(String(scalar.value, radix: 16, uppercase: true))}"
                }.joined()
                log.append(Diagnostic("'\(path).\(shown)' is not a BIOS attribute name: letters, digits and '_', starting with a letter, at most 64 characters",
                                      at: entry.nameLocation))
                continue
            }
            locations["bios.attributes.\(entry.name)"] = entry.nameLocation
            switch entry.value {
            case .string(let text):
                guard text.unicodeScalars.count <= BIOSSettings.maxStringLength else {
                    log.append(Diagnostic("'\(path).\(entry.name)' is \(text.unicodeScalars.count) characters long; at most \(BIOSSettings.maxStringLength)",
                                          at: entry.location))
                    continue
                }
                guard case .success = Names.oneLine(text) else {
                    log.append(Diagnostic("'\(path).\(entry.name)' must be one line without control characters, found \(Names.quoted(text))",
                                          at: entry.location))
                    continue
                }
                attributes[entry.name] = .string(text)
            case .int(let number):
                guard BIOSSettings.integerRange.contains(number) else {
                    log.append(Diagnostic("'\(path).\(entry.name)' is out of range: \(number) (at most ±\(BIOSSettings.integerRange.upperBound), "
                                          + "what a Redfish number holds exactly)", at: entry.location))
                    continue
                }
                attributes[entry.name] = .integer(number)
            case .bool(let flag): attributes[entry.name] = .boolean(flag)
            case .null, .double:
                log.append(Diagnostic("'\(path).\(entry.name)' must be a string, an integer or a boolean, found \(entry.value.typeName)",
                                      at: entry.location))
            }
        }
        return Located(BIOSSettings(attributes: attributes), at: bios.location(of: "attributes"))
    }
}
