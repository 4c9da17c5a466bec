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
        return FirmwareBaseline(metadata: metadata, models: models, components: components)
    }
}
