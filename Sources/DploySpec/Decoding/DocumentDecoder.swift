import Yams

/// Turns one YAML document into a typed `SpecDocument`, logging every problem found.
///
/// It reads the envelope (`apiVersion`, `kind`, `metadata`, `spec`) and hands `spec` to
/// the decoder of its kind. A document with errors still logs all of them, but yields nil.
struct DocumentDecoder {
    let log: DiagnosticLog

    func decode(_ root: Node) -> SpecDocument? {
        guard let document = MappingReader(root, path: "", log: log) else { return nil }
        let errorsBefore = log.diagnostics.count

        if let apiVersion = document.string("apiVersion", required: true), apiVersion.value != Kind.apiVersion {
            log.append(Diagnostic("'apiVersion' must be '\(Kind.apiVersion)', found '\(apiVersion.value)'",
                                  at: apiVersion.location))
        }
        let kind = document.choice("kind", required: true, as: Kind.self)
        let metadata = document.mapping("metadata", required: true).flatMap(decodeMetadata)
        let spec = document.mapping("spec", required: true)
        var decoded: SpecDocument?
        if let kind, let spec {
            // Read the spec even when metadata is broken, so its errors show in the same run.
            let meta = metadata ?? ObjectMeta(name: "", location: log.location(root.mark))
            decoded = decodeSpec(kind.value, spec, metadata: meta)
            spec.finish()
        }
        document.finish()
        return log.diagnostics.count == errorsBefore && metadata != nil ? decoded : nil
    }

    private func decodeSpec(_ kind: Kind, _ spec: MappingReader, metadata: ObjectMeta) -> SpecDocument? {
        switch kind {
        case .machine: decodeMachine(spec, metadata: metadata).map(SpecDocument.machine)
        case .group: decodeGroup(spec, metadata: metadata).map(SpecDocument.group)
        case .profile: decodeProfile(spec, metadata: metadata).map(SpecDocument.profile)
        case .firmwareBaseline: decodeFirmwareBaseline(spec, metadata: metadata).map(SpecDocument.firmwareBaseline)
        case .task: decodeTask(spec, metadata: metadata).map(SpecDocument.task)
        }
    }

    private func decodeMetadata(_ reader: MappingReader) -> ObjectMeta? {
        defer { reader.finish() }
        let name = reader.parsed("name", required: true, Names.dnsLabel)
        let labels = decodeLabels(reader, "labels") ?? [:]
        guard let name else { return nil }
        return ObjectMeta(name: name.value, labels: labels, location: name.location)
    }

    /// A label map (`metadata.labels`, a selector), with Kubernetes' rules for keys and values.
    func decodeLabels(_ reader: MappingReader, _ key: String) -> [String: String]? {
        guard let map = reader.stringMap(key) else { return nil }
        var labels: [String: String] = [:]
        for (name, value) in map.sorted(by: { $0.key < $1.key }) {
            guard Names.isLabelKey(name) else {
                log.append(Diagnostic("'\(reader.fieldPath(key))' has an invalid key '\(name)' (a name of up to 63 letters, digits, '-', '_' or '.', optionally prefixed by a DNS name and '/')",
                                      at: value.location))
                continue
            }
            guard Names.isLabelValue(value.value) else {
                log.append(Diagnostic("'\(reader.fieldPath(key)).\(name)' is not a valid label value: '\(value.value)' (up to 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit)",
                                      at: value.location))
                continue
            }
            labels[name] = value.value
        }
        return labels
    }
}
