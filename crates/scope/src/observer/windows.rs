//! Windows events by kind (processes, files, connections, services,
//! tasks, cleared logs) and the other sources' (VPN, firewall).
use super::*;

impl Observer {
    pub(super) fn windows(&mut self, e: &Event, id: u32, ch: &str, host: &Arc<str>) {
        if ch.eq_ignore_ascii_case("Security") {
            match id {
                4624 => self.logon(e, host),
                4625 => self.failed_logon(e, host),
                4648 => self.explicit_creds(e, host),
                4672 => {
                    if let Some((n, d)) =
                        user_with_domain(e, "SubjectUserName", "SubjectDomainName")
                    {
                        let ev = evidence(e, enc("priv", &[&n, host]));
                        let a = self.accounts.entry(n).or_default();
                        a.seen(e.timestamp, d);
                        push_top(&mut a.privileged, ev);
                    }
                }
                4688 => self.process(e, host, false),
                4697 => self.service(
                    e,
                    host,
                    s(e, "ServiceName"),
                    s(e, "ServiceFileName"),
                    s(e, "ServiceAccount"),
                ),
                4698 | 4702 => self.task(e, host, id),
                4720 => {
                    if let Some((n, d)) = user_with_domain(e, "TargetUserName", "TargetDomainName")
                    {
                        let by_raw = s(e, "SubjectUserName").unwrap_or("?");
                        let by = user(Some(by_raw)).map(|u| u.0);
                        let ev = evidence(
                            e,
                            enc("created", &[&n, by.as_deref().unwrap_or(by_raw), host]),
                        );
                        let a = self.accounts.entry(n).or_default();
                        a.seen(e.timestamp, d);
                        push_top(&mut a.created, ev);
                        if let Some(b) = by {
                            a.created_by.insert(b);
                        }
                    }
                }
                4728 | 4732 | 4756 => {
                    let member = s(e, "MemberName")
                        .and_then(|dn| {
                            dn.split(',')
                                .next()
                                .and_then(|cn| {
                                    cn.trim()
                                        .strip_prefix("CN=")
                                        .or(cn.trim().strip_prefix("cn="))
                                })
                                .map(|c| c.to_string())
                        })
                        .or_else(|| s(e, "MemberSid").map(str::to_string));
                    if let (Some(m), Some(g)) =
                        (member.and_then(|m| user(Some(&m))), s(e, "TargetUserName"))
                    {
                        let ev = evidence(e, enc("group", &[&id.to_string(), &m.0, g, host]));
                        let a = self.accounts.entry(m.0).or_default();
                        a.seen(e.timestamp, None);
                        push_top(a.groups.entry(g.to_string()).or_default(), ev);
                    }
                }
                4768 | 4769 => {
                    let kdc = self.kdc.entry(host.to_string()).or_default();
                    let keep = may_be_top(&kdc.evidence, e);
                    kdc.add(
                        e.timestamp,
                        keep.then(|| evidence(e, enc("kdc", &[&id.to_string(), host]))),
                    );
                    self.kerberos(e, host, id);
                }
                4771 | 4776 => self.auth_validation(e, host, id),
                5140 | 5145 => self.share(e, host, id),
                1102 => {
                    // Some collectors keep only the rendered message of
                    // 1102 (its UserData is not flattened): the account is
                    // then read from "Account Name:" there.
                    let raw = s(e, "SubjectUserName").or_else(|| {
                        s(e, "Message").and_then(|m| message_field(m, "Account Name:"))
                    });
                    self.cleared_log(e, host, "Security".into(), raw);
                }
                _ => {}
            }
        } else if ch == SYSMON || ch.eq_ignore_ascii_case(SYSMON) {
            match id {
                1 => self.process(e, host, true),
                3 => self.connection(e, host),
                11 => self.file_created(e, host),
                19 | 21 => {
                    // A WMI event subscription created for an account: a
                    // remote WMI execution when a network logon of that
                    // account comes with it (paired at the end).
                    let op = s(e, "Operation").unwrap_or("Created");
                    if let (true, Some((n, _))) =
                        (op.eq_ignore_ascii_case("created"), user(s(e, "User")))
                    {
                        let name = s(e, "Name").or(s(e, "Consumer")).unwrap_or("?");
                        let ev = evidence(e, enc("wmisub", &[&id.to_string(), name, &n, host]));
                        self.remote_exec.push(RemoteExec {
                            host: host.to_string(),
                            time: e.timestamp,
                            user: Some(n),
                            method: LinkMethod::Wmi,
                            evidence: ev,
                        });
                    }
                }
                22 => {
                    if let Some(q) = s(e, "QueryName") {
                        let d = self
                            .dns
                            .entry(q.trim_end_matches('.').to_ascii_lowercase())
                            .or_default();
                        d.hosts.insert(host.to_string());
                        if let Some(i) = s(e, "Image") {
                            d.images.insert(basename(i));
                        }
                        let ev = evidence(e, enc("dns", &[q, host]));
                        d.agg.add(e.timestamp, Some(ev));
                    }
                }
                _ => {}
            }
        } else if ch.eq_ignore_ascii_case("System") {
            match id {
                7045 => self.service(
                    e,
                    host,
                    s(e, "ServiceName"),
                    s(e, "ImagePath"),
                    s(e, "AccountName"),
                ),
                104 => {
                    // The cleared channel is the `Channel` field of UserData,
                    // pushed after the envelope's `Channel` (= System): the
                    // last one when there are two — `System` itself when
                    // the System log was cleared, as it most often is.
                    let env = e.channel.as_deref();
                    let channels: Vec<&str> = e
                        .fields
                        .iter()
                        .filter(|(k, _)| &**k == "Channel")
                        .filter_map(|(_, v)| v.as_str())
                        .collect();
                    let cleared = match channels.as_slice() {
                        [.., _, last] => last,
                        [only] if Some(*only) != env => only,
                        _ => "unknown log",
                    }
                    .to_string();
                    self.cleared_log(e, host, cleared, s(e, "SubjectUserName"));
                }
                _ => {}
            }
        } else if id == 1149 && ch.contains("TerminalServices-RemoteConnectionManager") {
            let who = match (s(e, "Param2"), s(e, "Param1")) {
                (Some(d), Some(u)) => Some(format!("{d}\\{u}")),
                (None, Some(u)) => Some(u.to_string()),
                _ => None,
            };
            let addr = s(e, "Param3").and_then(address_key);
            self.rdp(e, host, who.as_deref(), addr, "1149");
        } else if matches!(id, 21 | 22 | 25) && ch.contains("TerminalServices-LocalSessionManager")
        {
            let addr = s(e, "Address").and_then(address_key);
            self.rdp(e, host, s(e, "User"), addr, &id.to_string());
        }
    }

    pub(super) fn cleared_log(
        &mut self,
        e: &Event,
        host: &str,
        cleared: String,
        raw_account: Option<&str>,
    ) {
        // An account of interest is kept as such; a machine account or a
        // built-in identity is none, but it is who cleared the log (a
        // service or a script running as SYSTEM): said as written, never
        // "?".
        let account = user(raw_account).map(|u| u.0);
        let by = match (&account, raw_account.and_then(account_key)) {
            (Some(a), _) => a.clone(),
            (None, Some((n, _))) if n.ends_with('$') => {
                format!("{} (SYSTEM)", raw_account.unwrap_or_default().trim())
            }
            (None, Some(_)) => raw_account.unwrap_or_default().trim().to_string(),
            (None, None) => "?".to_string(),
        };
        let summary = enc(
            "cleared",
            &[&e.event_id.unwrap_or(0).to_string(), &cleared, host, &by],
        );
        self.cleared.push(ClearedRaw {
            host: host.to_string(),
            channel: e.channel.as_deref().unwrap_or("").to_string(),
            cleared_channel: cleared,
            time: e.timestamp,
            account,
            evidence: evidence(e, summary),
        });
    }

    pub(super) fn process(&mut self, e: &Event, host: &str, sysmon: bool) {
        let (image, cmd, parent_img, key, parent_key, pid, user_f) = if sysmon {
            (
                s(e, "Image"),
                s(e, "CommandLine"),
                s(e, "ParentImage"),
                s(e, "ProcessGuid").map(guid_key),
                s(e, "ParentProcessGuid").map(guid_key),
                text(e, "ProcessId"),
                s(e, "User").map(std::borrow::Cow::Borrowed),
            )
        } else {
            (
                s(e, "NewProcessName"),
                s(e, "CommandLine"),
                s(e, "ParentProcessName"),
                e.get("NewProcessId").and_then(Value::as_i64).map(pid_key),
                e.get("ProcessId").and_then(Value::as_i64).map(pid_key),
                e.get("NewProcessId")
                    .and_then(Value::as_i64)
                    .map(|p| p.to_string()),
                s(e, "TargetUserName")
                    .filter(|u| *u != "-")
                    .or(s(e, "SubjectUserName"))
                    .map(|u| match s(e, "SubjectDomainName") {
                        Some(d) => std::borrow::Cow::Owned(format!("{d}\\{u}")),
                        None => std::borrow::Cow::Borrowed(u),
                    }),
            )
        };
        let Some(image) = image else {
            return;
        };
        self.proc_events += 1;
        let procs = Arc::make_mut(&mut self.procs);
        let hid = procs.intern(host);
        let parent_logged = parent_img.is_some();
        // Old 4688 layouts have no ParentProcessName: take it from the
        // parent's own creation event when this observer saw it (or the
        // one it follows, [`Observer::follow`]).
        let parent_img: Option<std::borrow::Cow<str>> = match parent_img {
            Some(p) => Some(std::borrow::Cow::Borrowed(p)),
            None => parent_key.and_then(|pk| {
                let named = |p: &ProcStore, h: u32| {
                    p.lookup(h, pk, e.timestamp)
                        .map(|n| std::borrow::Cow::Owned(p.name(n.image).to_string()))
                };
                named(procs, hid).or_else(|| {
                    let earlier = self.earlier.as_deref()?;
                    named(earlier, earlier.host_id(host)?)
                })
            }),
        };
        let parent_img = parent_img.as_deref();
        if let Some(k) = key {
            let image_id = procs.intern(image);
            let parent_image = parent_img.map(|p| procs.intern(p));
            procs.insert(
                hid,
                k,
                ProcNode {
                    time: e.timestamp,
                    image: image_id,
                    parent: parent_key,
                    parent_image,
                },
                self.clock_ceiling,
            );
        }
        let b = basename(image);
        let pb = parent_img.map(basename).unwrap_or_default();
        let acct = user(user_f.as_deref());
        if let Some((n, d)) = &acct {
            let a = self.account(n);
            a.seen(e.timestamp, d.clone());
            if !a.hosts.contains(host) {
                a.hosts.insert(host.to_string());
            }
        }
        // Only a parent image the event logged says "remote" here. One
        // looked up in this observer's process creations would depend on
        // which creations this observer was given (the parent's may be in
        // another worker's batch, or not read yet): those are decided at
        // the end, on all creations ([`Orphan`]).
        let remote = if parent_logged {
            remote_method(&pb)
        } else {
            if let Some(pk) = parent_key {
                self.orphans.push(Orphan {
                    host: host.to_string(),
                    parent_key: pk,
                    image: b.clone(),
                    user: acct.as_ref().map(|a| a.0.clone()),
                    evidence: evidence(e, String::new()),
                });
            }
            None
        };
        if let Some(m) = remote {
            self.remote_exec.push(RemoteExec {
                host: host.to_string(),
                time: e.timestamp,
                user: acct.as_ref().map(|a| a.0.clone()),
                method: m,
                evidence: evidence(e, remote_summary(&b, &pb, m, host)),
            });
        }
        // The host process of a remote session itself, started for the
        // remote account: WinRM (wsmprovhost) and DCOM (an Office
        // application or MMC started with `-Embedding`).
        if let Some((m, n)) = session_host(&b, cmd.unwrap_or("")).zip(acct.as_ref()) {
            let parent = if pb.is_empty() {
                "svchost.exe"
            } else {
                pb.as_str()
            };
            self.remote_exec.push(RemoteExec {
                host: host.to_string(),
                time: e.timestamp,
                user: Some(n.0.clone()),
                method: m,
                evidence: evidence(e, remote_summary(&b, parent, m, host)),
            });
        }
        if let Some(kind) = behaviour(&b, cmd.unwrap_or("")) {
            let summary = enc("behaviour", &[kind.code(), host, cmd.unwrap_or(image)]);
            self.behaviours.push(Behaviour {
                host: host.to_string(),
                kind,
                user: acct.as_ref().map(|a| a.0.clone()),
                evidence: evidence(e, summary),
            });
        }
        let original = s(e, "OriginalFileName").map(|o| o.to_ascii_lowercase());
        let tool = crate::exposure::tool_kind(&b, original.as_deref(), cmd.unwrap_or(""));
        if tool.is_some() {
            self.interesting.push(ProcRaw {
                host: host.to_string(),
                time: e.timestamp,
                pid,
                image: image.to_string(),
                original,
                cmdline: cmd.map(str::to_string),
                user: acct.map(|a| a.0),
                key,
                parent_key,
                parent_image: parent_img.map(str::to_string),
                parent_cmdline: s(e, "ParentCommandLine").map(str::to_string),
                rules: Vec::new(),
                evidence: evidence(e, enc("proc", &[&b, host, cmd.unwrap_or(image)])),
            });
        }
    }

    /// Sysmon 11: files whose names ransomware gives its notes, counted
    /// per folder for the program that wrote them.
    pub(super) fn file_created(&mut self, e: &Event, host: &str) {
        let Some(path) = s(e, "TargetFilename") else {
            return;
        };
        let name = basename(path);
        if !ransom_note_name(&name) {
            return;
        }
        let image = s(e, "Image").map(basename).unwrap_or_default();
        let dir = path
            .rsplit_once(['\\', '/'])
            .map(|(d, _)| d.to_ascii_lowercase())
            .unwrap_or_default();
        let n = self
            .notes
            .entry((host.to_string(), image.clone()))
            .or_default();
        if n.dirs.len() < NOTE_DIRS || n.dirs.last().is_some_and(|l| dir < *l) {
            n.dirs.insert(dir);
            while n.dirs.len() > NOTE_DIRS {
                n.dirs.pop_last();
            }
        }
        let keep = may_be_top(&n.agg.evidence, e);
        n.agg.add(
            e.timestamp,
            keep.then(|| evidence(e, enc("note", &[path, &image, host]))),
        );
    }

    pub(super) fn connection(&mut self, e: &Event, host: &Arc<str>) {
        let Some(dst) = s(e, "DestinationIp").and_then(|d| {
            d.trim_start_matches("::ffff:")
                .parse::<std::net::IpAddr>()
                .ok()
        }) else {
            return;
        };
        let initiated = match e.get("Initiated") {
            Some(Value::Bool(b)) => *b,
            Some(v) => v.to_text().eq_ignore_ascii_case("true"),
            None => true,
        };
        if let Some(src) = s(e, "SourceIp").and_then(address_key) {
            if !is_local_addr(&src) && initiated {
                self.addr_is_host(&src, host);
            }
        }
        if !initiated || dst.is_loopback() || dst.is_unspecified() || !self.keeps_conns {
            return;
        }
        let port = e
            .get("DestinationPort")
            .and_then(Value::as_i64)
            .unwrap_or(0) as u16;
        // Only the earliest evidence and the span are read (the zones'
        // reach), so only those are kept: no destination name, no more
        // evidence than is shown (see [`CONN_EVIDENCE`]).
        let agg = self.conns.entry((host.clone(), dst, port)).or_default();
        if may_be_top_n(&agg.evidence, e, CONN_EVIDENCE) {
            let img = s(e, "Image").map(basename).unwrap_or_default();
            let summary = enc("conn", &[&img, host, &dst.to_string(), &port.to_string()]);
            agg.add_n(e.timestamp, Some(evidence(e, summary)), CONN_EVIDENCE);
        } else {
            agg.add_n(e.timestamp, None, CONN_EVIDENCE);
        }
    }

    pub(super) fn service(
        &mut self,
        e: &Event,
        host: &str,
        name: Option<&str>,
        image: Option<&str>,
        acct: Option<&str>,
    ) {
        let Some(name) = name else {
            return;
        };
        let summary = enc(
            "svc",
            &[
                &e.event_id.unwrap_or(0).to_string(),
                name,
                host,
                image.unwrap_or("?"),
            ],
        );
        // 4697 names who installed it (for a remote installation, the
        // remote account); 7045 does not.
        let creator = if e.event_id == Some(4697) {
            user(s(e, "SubjectUserName")).map(|u| u.0)
        } else {
            None
        };
        self.services.push(SvcRaw {
            host: host.to_string(),
            time: e.timestamp,
            name: name.to_string(),
            image: image.map(str::to_string),
            account: acct.map(str::to_string),
            creator,
            rules: Vec::new(),
            evidence: evidence(e, summary),
        });
    }

    pub(super) fn task(&mut self, e: &Event, host: &str, id: u32) {
        let Some(name) = s(e, "TaskName") else {
            return;
        };
        let command = s(e, "TaskContent")
            .or(s(e, "TaskContentNew"))
            .and_then(task_command);
        let account = user(s(e, "SubjectUserName")).map(|u| u.0);
        let action = if id == 4698 { "created" } else { "updated" };
        let summary = enc("task", &[&id.to_string(), name, action, host]);
        self.tasks.push(TaskRaw {
            host: host.to_string(),
            time: e.timestamp,
            name: name.to_string(),
            command,
            account,
            action: action.to_string(),
            rules: Vec::new(),
            evidence: evidence(e, summary),
        });
    }

    /// Non-Windows events: firewall traffic and VPN logs (FortiGate keys).
    pub(super) fn other(&mut self, e: &Event, host: &str) {
        let remip = s(e, "remip").and_then(address_key);
        let vpn_user = s(e, "user").or(s(e, "xauthuser"));
        if let (Some(_), Some(_)) = (&remip, vpn_user) {
            let action = s(e, "action").unwrap_or("").to_ascii_lowercase();
            let desc = s(e, "logdesc").unwrap_or("").to_ascii_lowercase();
            let failed = action.contains("fail") || desc.contains("fail");
            let success = !failed
                && (action == "tunnel-up"
                    || action.contains("success")
                    || desc.contains("tunnel up"));
            if failed || success {
                let u = vpn_user.and_then(|u| user(Some(u))).map(|u| u.0);
                let tunnel = s(e, "tunnelip").or(s(e, "assignip")).and_then(address_key);
                let summary = enc(
                    "vpn",
                    &[
                        if success { "1" } else { "0" },
                        host,
                        u.as_deref().unwrap_or("?"),
                        remip.as_deref().unwrap_or("?"),
                        tunnel.as_deref().unwrap_or(""),
                    ],
                );
                if let Some(n) = &u {
                    let a = self.accounts.entry(n.clone()).or_default();
                    a.seen(e.timestamp, None);
                    if let Some(r) = &remip {
                        a.addresses.insert(r.clone());
                    }
                }
                self.gateways
                    .entry(host.to_string())
                    .or_default()
                    .add(e.timestamp, None);
                self.vpn.push(VpnRaw {
                    time: e.timestamp,
                    user: u,
                    remote: remip,
                    tunnel,
                    success,
                    gateway: host.to_string(),
                    evidence: evidence(e, summary),
                });
            }
            return;
        }
        let sent = e.get("sentbyte").and_then(Value::as_i64);
        if let (Some(sent), Some(src), Some(dst)) = (
            sent,
            s(e, "srcip").and_then(address_key),
            s(e, "dstip").and_then(address_key),
        ) {
            self.gateways
                .entry(host.to_string())
                .or_default()
                .add(e.timestamp, None);
            let agg = self
                .transfers
                .entry((src.clone(), dst.clone()))
                .or_default();
            let summary = enc("sent", &[host, &src, &sent.to_string(), &dst]);
            agg.add(e.timestamp, Some(evidence(e, summary)));
            agg.sum += sent.max(0) as u64;
            if let Some(n) = s(e, "dstname").or(s(e, "hostname")) {
                agg.tags.insert(n.to_ascii_lowercase());
            }
        }
    }
}
