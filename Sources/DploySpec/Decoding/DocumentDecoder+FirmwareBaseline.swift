import Yams

extension DocumentDecoder {
    func decodeFirmwareBaseline(_ spec: MappingReader, metadata: ObjectMeta) -> FirmwareBaseline? {
        let models = spec.stringList("models", required: true, nonEmpty: true)?.map(\.value) ?? []
        var components: [FirmwareComponent] = []
        var seen: [String: SourceLocation] = [:]
        for item in spec.sequence("components", required: true, nonEmpty: true) ?? [] {
            guard let reader = MappingReader(item.node, path: item.path, log: log) else { continue }
            let name = reader.string("name", required: true)
            let version = reader.string("version", required: true)
            let image = reader.parsed("image", required: true, Names.httpURL)
            let sha256 = reader.parsed("sha256", required: true, Names.sha256)
            reader.finish()
            if let name {
                if let first = seen[name.value] {
                    log.append(Diagnostic("component '\(name.value)' is listed twice (first at \(first))", at: name.location))
                }
                seen[name.value] = seen[name.value] ?? name.location
            }
            if let name, let version, let image, let sha256 {
                components.append(FirmwareComponent(name: name.value, version: version.value, image: image.value,
                                                    sha256: sha256.value))
            }
        }
        let rollout = spec.mapping("rollout").map(decodeRollout)
        return FirmwareBaseline(metadata: metadata, models: models, components: components, rollout: rollout)
    }

    /// `spec.rollout`: every field optional; what is wrong is reported at its line and the
    /// rest read, as everywhere.
    func decodeRollout(_ reader: MappingReader) -> RolloutPolicy {
        var policy = RolloutPolicy()
        if let canaries = reader.int("canaries", minimum: 0) { policy.canaries = canaries.value }
        if let maxParallel = reader.int("maxParallel", minimum: 1) { policy.maxParallel = maxParallel.value }
        if let maxFailures = reader.int("maxFailures", minimum: 0) { policy.maxFailures = maxFailures.value }
        if let items = reader.stringList("waves", nonEmpty: true) {
            var waves: [Int] = []
            for item in items {
                switch RolloutPolicy.parsePercent(item.value) {
                case .success(let share):
                    if let last = waves.last, share <= last {
                        log.append(Diagnostic("'\(reader.fieldPath("waves"))' must grow from wave to wave: \(share)% follows \(last)%", at: item.location))
                    }
                    waves.append(share)
                case .failure(let error):
                    log.append(Diagnostic("'\(reader.fieldPath("waves"))' \(error.reason)", at: item.location))
                }
            }
            if let last = items.last, waves.last != 100, waves.count == items.count {
                log.append(Diagnostic("'\(reader.fieldPath("waves"))' must end at \"100%\", so that every machine is in a wave; it ends at \(last.value)", at: last.location))
            }
            if !waves.isEmpty { policy.waves = waves }
        }
        if let window = reader.mapping("window") {
            var days = Set(RolloutPolicy.Window.Day.allCases)
            if let listed = window.stringList("days", nonEmpty: true) {
                days = []
                for day in listed {
                    if let known = RolloutPolicy.Window.Day(rawValue: day.value) {
                        days.insert(known)
                    } else {
                        let names = RolloutPolicy.Window.Day.allCases.map(\.rawValue)
                        log.append(Diagnostic("'\(window.fieldPath("days"))' must list days among \(names.joined(separator: ", ")), found '\(day.value)'"
                                              + Suggestion.phrase(for: day.value, in: names), at: day.location))
                    }
                }
            }
            let from = window.parsed("from", required: true, RolloutPolicy.Window.parseClock)
            let to = window.parsed("to", required: true, RolloutPolicy.Window.parseClock)
            let zone = window.parsed("timezone", RolloutPolicy.Window.parseZone)
            window.finish()
            if let from, let to, from.value >= to.value {
                log.append(Diagnostic("'\(window.fieldPath("to"))' must be after 'from' (\(RolloutPolicy.Window.clock(from.value))): "
                                      + "a window lies within one day", at: to.location))
            }
            if let from, let to {
                policy.window = RolloutPolicy.Window(days: days, from: from.value, to: to.value, offsetMinutes: zone?.value ?? 0)
            }
        }
        reader.finish()
        return policy
    }
}
