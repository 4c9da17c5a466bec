/// `storage.logicalDrives`: every problem at its line, the rest read; a list with any
/// problem yields no storage settings, so nothing is planned from half of it.
extension DocumentDecoder {
    func decodeStorage(_ storage: MappingReader) -> Located<StorageSettings>? {
        let path = storage.fieldPath("logicalDrives")
        guard let items = storage.sequence("logicalDrives", required: true) else { return nil }
        guard items.count <= StorageSettings.maxLogicalDrives else {
            log.append(Diagnostic("'\(path)' lists \(items.count) logical drives; at most \(StorageSettings.maxLogicalDrives)",
                                  at: storage.location(of: "logicalDrives")))
            return nil
        }
        var drives: [LogicalDriveSpec] = []
        var failed = false
        var names: [String: SourceLocation] = [:]
        // A drive belongs to one logical drive, as data or as spare.
        var used: [String: String] = [:]
        for item in items {
            guard let reader = MappingReader(item.node, path: item.path, log: log) else { failed = true; continue }
            let before = log.diagnostics.count
            let name = reader.string("name", required: true)
            let raid = reader.choice("raid", required: true, as: RAIDLevel.self)
            let listed = locations(reader, "drives")
            let count = reader.int("count", minimum: 1)
            let media = reader.choice("media", as: DriveMedia.self)
            let spare = locations(reader, "spare") ?? []
            reader.finish()
            if let name {
                if !StorageSettings.isValidName(name.value) {
                    log.append(Diagnostic("'\(item.path).name' is not a logical drive name: '\(Names.escapingControls(name.value))' "
                                          + "(1 to 32 letters, digits, spaces, '-', '_' and '.', starting with a letter or digit)", at: name.location))
                } else if let first = names[name.value] {
                    log.append(Diagnostic("logical drive '\(name.value)' is listed twice (first at \(first))", at: name.location))
                }
                names[name.value] = names[name.value] ?? name.location
            }
            var selection: DriveSelection?
            switch (listed, count) {
            case (.some, .some):
                log.append(Diagnostic("'\(item.path)' names its drives and a count: give 'drives' or 'count' with 'media', not both",
                                      at: reader.location(of: "count")))
            case (nil, nil):
                log.append(Diagnostic("'\(item.path)' needs 'drives' (locations such as 1I:1:1) or 'count' with 'media'",
                                      at: log.location(item.node.mark)))
            case (let listed?, nil):
                if media != nil {
                    log.append(Diagnostic("'\(item.path).media' goes with 'count'; drives named by location are used whatever their media",
                                          at: reader.location(of: "media")))
                }
                selection = .locations(listed.map(\.value))
            case (nil, let count?):
                if count.value > StorageSettings.maxDrives {
                    log.append(Diagnostic("'\(item.path).count' is \(count.value); at most \(StorageSettings.maxDrives)", at: count.location))
                } else if let media {
                    selection = .count(count.value, media: media.value)
                } else if !reader.has("media") {
                    log.append(Diagnostic("'\(item.path)' has a 'count' but no 'media' (HDD or SSD)", at: count.location))
                }
            }
            if let raid, let selection, selection.count < raid.value.minimumDrives {
                log.append(Diagnostic("'\(item.path)' builds \(raid.value.rawValue) from \(selection.count) drive\(selection.count == 1 ? "" : "s"); "
                                      + "it needs at least \(raid.value.minimumDrives)", at: raid.location))
            }
            let label = name?.value ?? item.path
            for location in (listed ?? []) + spare {
                if let owner = used[location.value] {
                    log.append(Diagnostic("drive \(location.value) is used twice: by '\(owner)' and by '\(label)'", at: location.location))
                }
                used[location.value] = used[location.value] ?? label
            }
            if log.diagnostics.count != before { failed = true; continue }
            if let name, let raid, let selection {
                drives.append(LogicalDriveSpec(name: name.value, raid: raid.value, drives: selection, spare: spare.map(\.value)))
            }
        }
        guard !failed else { return nil }
        return Located(StorageSettings(logicalDrives: drives), at: storage.location(of: "logicalDrives"))
    }

    /// A list of drive locations (`drives`, `spare`), each checked, at most `maxDrives`.
    private func locations(_ reader: MappingReader, _ key: String) -> [Located<String>]? {
        guard let items = reader.stringList(key, nonEmpty: key == "drives") else { return nil }
        guard items.count <= StorageSettings.maxDrives else {
            log.append(Diagnostic("'\(reader.fieldPath(key))' lists \(items.count) drives; at most \(StorageSettings.maxDrives)",
                                  at: reader.location(of: key)))
            return []
        }
        var seen: Set<String> = []
        for item in items {
            if !StorageSettings.isValidLocation(item.value) {
                log.append(Diagnostic("'\(reader.fieldPath(key))' has '\(Names.escapingControls(item.value))', which is not a drive location "
                                      + "(Port:Box:Bay such as 1I:1:1, or a DMTF service label such as Slot=18:Port=1:Box=1:Bay=5)",
                                      at: item.location))
            } else if !seen.insert(item.value).inserted {
                log.append(Diagnostic("'\(reader.fieldPath(key))' lists drive \(item.value) twice", at: item.location))
            }
        }
        return items
    }
}
