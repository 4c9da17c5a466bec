extension DocumentDecoder {
    func decodeGroup(_ spec: MappingReader, metadata: ObjectMeta) -> Group? {
        let selector = decodeLabels(spec, "selector")
        let members = spec.stringList("members") ?? []
        for member in members where !Names.isDNSLabel(member.value) {
            log.append(Diagnostic("'spec.members' has an invalid machine name '\(member.value)'", at: member.location))
        }
        let priority = spec.int("priority")?.value ?? 0
        var defaults = MachineSettings()
        if let reader = spec.mapping("defaults") {
            defaults = decodeSettings(reader, isGroupDefault: true)
            reader.finish()
        }
        // The baseline's grammar and reader: one rollout language.
        let rollout = spec.mapping("rollout").map(decodeRollout)
        if rollout != nil, defaults.bios == nil, defaults.storage == nil {
            // It would govern nothing: better said here than silently doing nothing.
            log.append(Diagnostic("'spec.rollout': rollout governs the group's bios and storage defaults; this group sets neither",
                                  at: spec.location(of: "rollout")))
        }
        if selector == nil && !spec.has("members") {
            log.append(Diagnostic("a Group needs 'spec.selector' or 'spec.members' (or both) to choose its machines",
                                  at: log.location(spec.mark)))
        }
        return Group(metadata: metadata, selector: selector, members: members, priority: priority, defaults: defaults, rollout: rollout)
    }
}
