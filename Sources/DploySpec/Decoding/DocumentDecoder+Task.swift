extension DocumentDecoder {
    func decodeTask(_ spec: MappingReader, metadata: ObjectMeta) -> TaskDefinition? {
        let targets = spec.mapping("targets", required: true).map(decodeTargets)
        let concurrency = spec.int("concurrency", minimum: 1)?.value ?? 1
        let timeout = spec.parsed("timeout", Duration.parseSpec)?.value
        let stopOnFailure = spec.bool("stopOnFailure")?.value ?? false

        var actions: [TaskAction] = []
        var present: [String] = []
        for field in TaskAction.fieldNames where spec.has(field) { present.append(field) }
        if let ssh = spec.mapping("ssh") {
            let command = ssh.string("command", required: true)
            let user = ssh.string("user")?.value ?? "root"
            let credentials = ssh.parsed("credentials", required: true, Names.dnsLabel)
            let hostKey = ssh.choice("hostKey", as: HostKeyPolicy.self)?.value ?? .strict
            let port = ssh.int("port", minimum: 1)?.value ?? 22
            if port > 65535 {
                log.append(Diagnostic("'\(ssh.path).port' must be a TCP port, 1 to 65535; found \(port)", at: ssh.location(of: "port")))
            }
            ssh.finish()
            if let command, let credentials {
                actions.append(.ssh(command: command.value, user: user, credentials: credentials.value, hostKey: hostKey,
                                    port: port))
            }
        }
        for (field, capture) in [("imageCapture", true), ("imageRestore", false)] {
            guard let image = spec.mapping(field) else { continue }
            let url = image.parsed("url", required: true, Names.httpURL)
            let disk = image.parsed("disk", required: true, Names.devicePath)
            let sha256 = capture ? nil : image.parsed("sha256", Names.sha256)
            image.finish()
            if let url, let disk {
                actions.append(capture ? .imageCapture(url: url.value, disk: disk.value)
                                       : .imageRestore(url: url.value, disk: disk.value, sha256: sha256?.value))
            }
        }
        if spec.has("rediscover") {
            if let flag = spec.bool("rediscover") {
                if flag.value { actions.append(.rediscover) } else {
                    log.append(Diagnostic("'spec.rediscover' can only be true; remove it to choose another action",
                                          at: flag.location))
                }
            }
        }
        if let power = spec.choice("power", as: PowerAction.self) { actions.append(.power(power.value)) }

        if present.count > 1 {
            log.append(Diagnostic("a Task has exactly one action, found \(present.count): \(present.joined(separator: ", "))",
                                  at: spec.location(of: present[1])))
        } else if present.isEmpty {
            log.append(Diagnostic("a Task needs one action: \(TaskAction.fieldNames.joined(separator: ", "))",
                                  at: log.location(spec.mark)))
        }
        guard let targets, let action = actions.first, present.count == 1 else { return nil }
        // A whole disk over the network takes hours, not the minutes a command may.
        let defaultTimeout: Duration = action.isImaging ? .seconds(4 * 3600) : .seconds(600)
        return TaskDefinition(metadata: metadata, targets: targets, action: action, concurrency: concurrency,
                              timeout: timeout ?? defaultTimeout, stopOnFailure: stopOnFailure)
    }

    private func decodeTargets(_ reader: MappingReader) -> TaskTargets {
        defer { reader.finish() }
        let machines = reader.stringList("machines") ?? []
        let groups = reader.stringList("groups") ?? []
        let selector = decodeLabels(reader, "selector")
        if machines.isEmpty && groups.isEmpty && (selector ?? [:]).isEmpty {
            log.error("'\(reader.path)' must name machines, groups or a selector", at: reader.mark)
        }
        return TaskTargets(machines: machines, groups: groups, selector: selector)
    }
}
