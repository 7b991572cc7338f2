//! The detections an event raised, and the processes they make
//! interesting.
use super::*;

impl Observer {
    pub(super) fn detections(
        &mut self,
        e: &Event,
        matches: &[Match],
        host: &Arc<str>,
        named: bool,
    ) {
        let mut accounts = BTreeSet::new();
        // In group-membership events TargetUserName is the group: the
        // account is the member (MemberName is a DN: CN=name,...).
        let group_event = matches!(e.event_id, Some(4727..=4737 | 4744..=4762 | 4798 | 4799));
        for f in [
            "User",
            "SubjectUserName",
            "TargetUserName",
            "AccountName",
            "SamAccountName",
            "user",
        ] {
            if group_event && f == "TargetUserName" {
                continue;
            }
            if let Some((n, _)) = user(s(e, f)) {
                accounts.insert(n);
            }
        }
        if group_event {
            let member = s(e, "MemberName")
                .and_then(|dn| dn.split(',').next())
                .and_then(|cn| {
                    cn.trim()
                        .strip_prefix("CN=")
                        .or(cn.trim().strip_prefix("cn="))
                });
            if let Some((n, _)) = user(member) {
                accounts.insert(n);
            }
        }
        if e.event_id == Some(4769) {
            if let Some((n, _)) = user(s(e, "ServiceName")) {
                if n != "krbtgt" {
                    accounts.insert(n);
                }
            }
        }
        if e.event_id == Some(1149) {
            if let Some((n, _)) = user(s(e, "Param1")) {
                accounts.insert(n);
            }
        }
        let mut addresses = BTreeSet::new();
        for f in [
            "IpAddress",
            "SourceIp",
            "srcip",
            "remip",
            "Param3",
            "Address",
        ] {
            if let Some(a) = s(e, f).and_then(address_key) {
                if !is_local_addr(&a) {
                    addresses.insert(a);
                }
            }
        }
        let accounts: Arc<[String]> = accounts.into_iter().collect();
        let addresses: Arc<[String]> = addresses.into_iter().collect();
        let mut titles = Vec::new();
        for m in matches.iter().filter(|m| m.generate) {
            titles.push(m.rule.title.clone());
            self.dets.push(Det {
                time: e.timestamp,
                host: host.clone(),
                rule: m.rule.clone(),
                accounts: accounts.clone(),
                addresses: addresses.clone(),
                source: e.origin.source.clone(),
                locator: e.origin.locator.clone(),
                event_id: e.event_id,
                named_host: named,
                summary: None,
                builtin: false,
            });
        }
        let host: &str = host;
        let ch = e.channel.as_deref().unwrap_or("");
        let sysmon = ch.eq_ignore_ascii_case(SYSMON);
        match e.event_id {
            Some(1) if sysmon => self.interesting_process(e, host, true, &titles),
            Some(4688) => self.interesting_process(e, host, false, &titles),
            Some(7045) | Some(4697) => {
                if let Some(last) = self.services.last_mut() {
                    if last.evidence.locator == e.origin.locator
                        && *last.evidence.source == *e.origin.source
                    {
                        last.rules.extend(titles.iter().cloned());
                    }
                }
            }
            Some(4698) | Some(4702) => {
                if let Some(last) = self.tasks.last_mut() {
                    if last.evidence.locator == e.origin.locator
                        && *last.evidence.source == *e.origin.source
                    {
                        last.rules.extend(titles.iter().cloned());
                    }
                }
            }
            Some(11) | Some(23) | Some(15) | Some(2) if sysmon => {
                if let Some(p) = s(e, "TargetFilename") {
                    self.files.push(FileRaw {
                        host: host.to_string(),
                        time: e.timestamp,
                        path: p.to_string(),
                        process: s(e, "Image").map(str::to_string),
                        rules: titles.clone(),
                        evidence: evidence(e, enc("file", &[p, host])),
                    });
                }
            }
            Some(22) if sysmon => {
                if let Some(q) = s(e, "QueryName") {
                    let d = self
                        .dns
                        .entry(q.trim_end_matches('.').to_ascii_lowercase())
                        .or_default();
                    d.rules.extend(titles.iter().cloned());
                }
            }
            Some(3) if sysmon => {
                if let Some(h) = s(e, "DestinationHostname") {
                    let d = self
                        .dns
                        .entry(h.trim_end_matches('.').to_ascii_lowercase())
                        .or_default();
                    d.hosts.insert(host.to_string());
                    d.rules.extend(titles.iter().cloned());
                    let ev = evidence(e, enc("connto", &[h, host]));
                    d.agg.add(e.timestamp, Some(ev));
                }
            }
            _ => {}
        }
    }

    pub(super) fn interesting_process(
        &mut self,
        e: &Event,
        host: &str,
        sysmon: bool,
        titles: &[String],
    ) {
        // Already recorded as a data-moving tool by `process`: add the rules.
        if let Some(last) = self.interesting.last_mut() {
            if last.evidence.locator == e.origin.locator
                && *last.evidence.source == *e.origin.source
            {
                last.rules.extend(titles.iter().cloned());
                return;
            }
        }
        let (image, key, parent_key, parent_img, user_f) = if sysmon {
            (
                s(e, "Image"),
                s(e, "ProcessGuid").map(guid_key),
                s(e, "ParentProcessGuid").map(guid_key),
                s(e, "ParentImage"),
                s(e, "User").map(str::to_string),
            )
        } else {
            (
                s(e, "NewProcessName"),
                e.get("NewProcessId").and_then(Value::as_i64).map(pid_key),
                e.get("ProcessId").and_then(Value::as_i64).map(pid_key),
                s(e, "ParentProcessName"),
                s(e, "SubjectUserName").map(str::to_string),
            )
        };
        let Some(image) = image else {
            return;
        };
        let cmd = s(e, "CommandLine");
        self.interesting.push(ProcRaw {
            host: host.to_string(),
            time: e.timestamp,
            pid: if sysmon {
                text(e, "ProcessId")
            } else {
                text(e, "NewProcessId")
            },
            image: image.to_string(),
            original: s(e, "OriginalFileName").map(|o| o.to_ascii_lowercase()),
            cmdline: cmd.map(str::to_string),
            user: user(user_f.as_deref()).map(|u| u.0),
            key,
            parent_key,
            parent_image: parent_img.map(str::to_string),
            parent_cmdline: s(e, "ParentCommandLine").map(str::to_string),
            rules: titles.to_vec(),
            evidence: evidence(
                e,
                enc("proc", &[&basename(image), host, cmd.unwrap_or(image)]),
            ),
        });
    }
}
