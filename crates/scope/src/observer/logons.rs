//! Logons, authentication and Kerberos, remote desktop, shares: the
//! links between hosts and the accounts that made them.
use super::*;

impl Observer {
    pub(super) fn logon(&mut self, e: &Event, host: &str) {
        let lt = e.get("LogonType").and_then(Value::as_i64).unwrap_or(0);
        // A computer account logging on from an address names the host
        // behind that address (`WEC$` from 172.18.38.6 is WEC).
        if let (Some(m), Some(ad)) = (
            s(e, "TargetUserName").filter(|n| n.ends_with('$')),
            s(e, "IpAddress").and_then(address_key),
        ) {
            if !is_local_addr(&ad) {
                if let Some(h) = host_key(m).filter(|h| h.parse::<std::net::IpAddr>().is_err()) {
                    self.addr_is_host(&ad, &h);
                }
            }
        }
        let Some((name, dom)) = user_with_domain(e, "TargetUserName", "TargetDomainName") else {
            return;
        };
        let addr = s(e, "IpAddress").and_then(address_key);
        let ws = s(e, "WorkstationName").and_then(host_key);
        if lt == 3 || lt == 10 {
            for src in [addr.as_deref().filter(|a| !is_local_addr(a)), ws.as_deref()]
                .into_iter()
                .flatten()
            {
                self.auth_ok(e, src, &name, host);
            }
        }
        {
            let a = self.account(&name);
            a.seen(e.timestamp, dom);
            if !a.hosts.contains(host) {
                a.hosts.insert(host.to_string());
            }
            if let Some(ad) = &addr {
                if !a.addresses.contains(ad) {
                    a.addresses.insert(ad.clone());
                }
            }
        }
        if let (Some(ad), Some(w)) = (&addr, &ws) {
            if !is_local_addr(ad) && w.parse::<std::net::IpAddr>().is_err() {
                self.addr_is_host(ad, w);
            }
        }
        let method = match lt {
            10 => LinkMethod::Rdp,
            3 => LinkMethod::LogonType3,
            _ => return,
        };
        if addr.as_deref().is_some_and(is_local_addr) {
            return;
        }
        let Some(from) = ws.as_deref().or(addr.as_deref()) else {
            return;
        };
        if from == host {
            return;
        }
        let summary = || {
            enc(
                "logon",
                &[
                    &lt.to_string(),
                    host,
                    &name,
                    addr.as_deref().unwrap_or("?"),
                    ws.as_deref().unwrap_or(""),
                ],
            )
        };
        self.link(
            e,
            from,
            host,
            Some(&name),
            method,
            addr.as_deref(),
            &summary,
        );
    }

    pub(super) fn failed_logon(&mut self, e: &Event, host: &str) {
        let addr = s(e, "IpAddress")
            .and_then(address_key)
            .filter(|a| !is_local_addr(a))
            .or_else(|| s(e, "WorkstationName").and_then(host_key))
            .unwrap_or_else(|| "-".into());
        self.auth_failure(e, host, 4625, addr);
    }

    /// A failed authentication (4625 logon, 4771 Kerberos pre-auth, 4776
    /// NTLM validation) of `TargetUserName` from `src` (address or host).
    pub(super) fn auth_failure(&mut self, e: &Event, host: &str, id: u32, src: String) {
        let name = account_key(s(e, "TargetUserName").unwrap_or("-"))
            .map(|a| a.0)
            .unwrap_or_else(|| "-".into());
        if name.ends_with('$') {
            return;
        }
        let agg = self
            .failed
            .entry((src, name, host.to_string()))
            .or_default();
        let keep = may_be_top(&agg.evidence, e);
        let ev = keep.then(|| {
            evidence(
                e,
                enc(
                    "authfail",
                    &[
                        &id.to_string(),
                        host,
                        s(e, "TargetUserName").unwrap_or("-"),
                        s(e, "IpAddress")
                            .or(s(e, "Workstation"))
                            .or(s(e, "WorkstationName"))
                            .unwrap_or("?"),
                    ],
                ),
            )
        });
        agg.add(e.timestamp, ev);
    }

    /// A successful authentication of `account` from `src`: whether a
    /// password spray or brute force succeeded.
    pub(super) fn auth_ok(&mut self, e: &Event, src: &str, account: &str, host: &str) {
        let key = (src.to_string(), account.to_string());
        let agg = self.auth_ok.entry(key).or_default();
        let keep = may_be_top(&agg.evidence, e);
        let id = e.event_id.unwrap_or(0).to_string();
        agg.add(
            e.timestamp,
            keep.then(|| evidence(e, enc("authok", &[&id, host, account, src]))),
        );
    }

    /// 4771 (Kerberos pre-authentication) and 4776 (NTLM validation) on a
    /// domain controller: failures feed spray detection, successes its
    /// outcome.
    pub(super) fn auth_validation(&mut self, e: &Event, host: &str, id: u32) {
        let status = s(e, "Status")
            .or(s(e, "FailureCode"))
            .unwrap_or("0x0")
            .to_ascii_lowercase();
        let ok = status == "0x0" || status == "0";
        let src = if id == 4771 {
            s(e, "IpAddress")
                .and_then(address_key)
                .filter(|a| !is_local_addr(a))
        } else {
            s(e, "Workstation").and_then(host_key)
        };
        let Some(src) = src else { return };
        if ok {
            if let Some((n, _)) = user(s(e, "TargetUserName")) {
                self.auth_ok(e, &src, &n, host);
            }
        } else {
            self.auth_failure(e, host, id, src);
        }
    }

    /// 4768/4769 on a domain controller: TGT successes (spray outcome) and
    /// RC4 service tickets for user accounts (Kerberoasting).
    pub(super) fn kerberos(&mut self, e: &Event, host: &str, id: u32) {
        let status = s(e, "Status").unwrap_or("0x0").to_ascii_lowercase();
        if status != "0x0" && status != "0" {
            return;
        }
        let addr = s(e, "IpAddress")
            .and_then(address_key)
            .filter(|a| !is_local_addr(a));
        if id == 4768 {
            if let (Some(a), Some((n, _))) = (&addr, user(s(e, "TargetUserName"))) {
                self.auth_ok(e, a, &n, host);
            }
            return;
        }
        let enc_type = s(e, "TicketEncryptionType")
            .unwrap_or("")
            .to_ascii_lowercase();
        let rc4 = matches!(enc_type.as_str(), "0x17" | "0x18" | "23" | "24");
        if !rc4 {
            return;
        }
        let Some((svc, _)) = user(s(e, "ServiceName")) else {
            return;
        };
        if svc == "krbtgt" || svc.ends_with('$') {
            return;
        }
        let Some((req, _)) = user(s(e, "TargetUserName")) else {
            return;
        };
        if req == svc {
            return;
        }
        let agg = self.tgs.entry((req.clone(), svc.clone())).or_default();
        let keep = may_be_top(&agg.evidence, e);
        let a = addr.clone().unwrap_or_else(|| "?".into());
        agg.add(
            e.timestamp,
            keep.then(|| evidence(e, enc("tgs", &["RC4", &svc, &req, &a, host]))),
        );
        if let Some(a) = addr {
            agg.tags.insert(a);
        }
        agg.tags.insert(format!("@{host}"));
    }

    pub(super) fn explicit_creds(&mut self, e: &Event, host: &str) {
        let Some((name, dom)) = user_with_domain(e, "TargetUserName", "TargetDomainName") else {
            return;
        };
        let target = s(e, "TargetServerName").and_then(host_key);
        let addr = s(e, "IpAddress").and_then(address_key);
        self.account(&name).seen(e.timestamp, dom);
        let Some(to) = target.or_else(|| addr.clone().filter(|a| !is_local_addr(a))) else {
            return;
        };
        if to == host
            || to
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
        {
            return;
        }
        let by = s(e, "SubjectUserName").unwrap_or("?");
        let summary = || enc("explicit", &[by, host, &name, &to]);
        // 4648 is logged on the source host: the source address is ours.
        self.link(
            e,
            host,
            &to,
            Some(&name),
            LinkMethod::ExplicitCreds,
            None,
            &summary,
        );
    }

    pub(super) fn rdp(
        &mut self,
        e: &Event,
        host: &str,
        who: Option<&str>,
        addr: Option<String>,
        what: &str,
    ) {
        let acct = user(who);
        if let Some((n, d)) = &acct {
            let a = self.account(n);
            a.seen(e.timestamp, d.clone());
            if !a.hosts.contains(host) {
                a.hosts.insert(host.to_string());
            }
            if let Some(ad) = &addr {
                if !a.addresses.contains(ad) {
                    a.addresses.insert(ad.clone());
                }
            }
        }
        let Some(ad) = addr.filter(|a| !is_local_addr(a)) else {
            return;
        };
        let name = acct.map(|a| a.0);
        let summary = || enc("rdp", &[what, host, name.as_deref().unwrap_or("?"), &ad]);
        self.link(
            e,
            &ad,
            host,
            name.as_deref(),
            LinkMethod::Rdp,
            Some(&ad),
            &summary,
        );
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn link(
        &mut self,
        e: &Event,
        from: &str,
        to: &str,
        account: Option<&str>,
        method: LinkMethod,
        addr: Option<&str>,
        summary: &dyn Fn() -> String,
    ) {
        let acc = self
            .links
            .entry(LinkKey {
                from: from.to_string(),
                to: to.to_string(),
                account: account.map(str::to_string),
                method,
            })
            .or_default();
        acc.count += 1;
        acc.first = min_t(acc.first, e.timestamp);
        acc.last = max_t(acc.last, e.timestamp);
        if let Some(a) = addr {
            if !acc.from_address.contains(a) {
                acc.from_address.insert(a.to_string());
            }
        }
        if let Some(t) = e.timestamp {
            let m = minute(t);
            if acc.minutes.last() != Some(&m) {
                acc.minutes.push(m);
            }
        }
        if may_be_top(&acc.evidence, e) {
            push_top(&mut acc.evidence, evidence(e, summary()));
        }
    }

    pub(super) fn share(&mut self, e: &Event, host: &str, id: u32) {
        let Some(share_raw) = s(e, "ShareName") else {
            return;
        };
        // Compared case-insensitively in place: one share event in ten of
        // a domain's logs, no copy needed unless it is kept.
        let share = share_raw.rsplit('\\').next().unwrap_or(share_raw);
        let is = |name: &str| share.eq_ignore_ascii_case(name);
        let addr = s(e, "IpAddress").and_then(address_key);
        let target = s(e, "RelativeTargetName").unwrap_or("");
        let tb = basename(target);
        // A computer account accessing a share from an address names the
        // host behind it.
        if let (Some(m), Some(ad)) = (s(e, "SubjectUserName").filter(|n| n.ends_with('$')), &addr) {
            if !is_local_addr(ad) {
                if let Some(h) = host_key(m).filter(|h| h.parse::<std::net::IpAddr>().is_err()) {
                    self.addr_is_host(ad, &h);
                }
            }
        }
        let Some((name, dom)) = user_with_domain(e, "SubjectUserName", "SubjectDomainName") else {
            return;
        };
        let admin_share = is("ADMIN$") || (share.len() == 2 && share.ends_with('$'));
        let method = if admin_share {
            // PsExec and clones copy their service binary to ADMIN$'s root.
            let exe_in_root = is("ADMIN$") && !target.contains('\\') && tb.ends_with(".exe");
            if is_psexec_name(&tb) || exe_in_root {
                Some(LinkMethod::Psexec)
            } else {
                Some(LinkMethod::SmbAdminShare)
            }
        } else if is("IPC$") {
            if is_psexec_name(&tb) || is_psexec_pipe(&tb) {
                Some(LinkMethod::Psexec)
            } else if tb == "svcctl" {
                Some(LinkMethod::RemoteService)
            } else if tb == "atsvc" {
                Some(LinkMethod::RemoteTask)
            } else {
                return;
            }
        } else {
            None
        };
        self.account(&name).seen(e.timestamp, dom);
        match method {
            Some(m) => {
                let Some(ad) = addr.filter(|a| !is_local_addr(a)) else {
                    return;
                };
                let summary = || enc("share", &[&id.to_string(), &name, &ad, host, share, target]);
                self.link(e, &ad, host, Some(&name), m, Some(&ad), &summary);
            }
            None => {
                let summary = || {
                    enc(
                        "share",
                        &[
                            &id.to_string(),
                            &name,
                            addr.as_deref().unwrap_or("?"),
                            host,
                            share,
                            target,
                        ],
                    )
                };
                let agg = self
                    .shares
                    .entry((host.to_string(), share.to_string(), name.clone()))
                    .or_default();
                // The evidence is built only if it can be among the kept
                // earliest (a busy share is accessed thousands of times).
                let keep = may_be_top(&agg.evidence, e);
                agg.add(e.timestamp, keep.then(|| evidence(e, summary())));
                if let Some(a) = addr {
                    agg.tags.insert(a);
                }
            }
        }
    }
}
