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
        if selector == nil && !spec.has("members") {
            log.append(Diagnostic("a Group needs 'spec.selector' or 'spec.members' (or both) to choose its machines",
                                  at: log.location(spec.mark)))
        }
        return Group(metadata: metadata, selector: selector, members: members, priority: priority, defaults: defaults, rollout: rollout)
    }
}
