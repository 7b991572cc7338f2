//! What the observer accumulates: coverage, links, aggregates, accounts,
//! detections and the few events kept whole (services, tasks, files...).
use super::*;

// --- accumulators -----------------------------------------------------------

#[derive(Debug, Default, Clone)]
pub(crate) struct CovAcc {
    pub fqdns: BTreeSet<String>,
    pub events: u64,
    pub first: Option<Timestamp>,
    pub last: Option<Timestamp>,
    /// Runs of consecutive record ids, in arrival order, put in order and
    /// joined whenever they double ([`CovAcc::add`]).
    pub runs: Vec<(u64, u64)>,
    /// Runs of minutes with events, joined when the gap between them is
    /// not a silence (see [`CovAcc::add`]).
    pub minutes: Vec<(i64, i64)>,
    /// Lengths of `runs` and `minutes` when they were last put in order.
    tidy: (usize, usize),
}

/// Longest gap, in whole minutes, that is not a silence for a threshold
/// in seconds: a gap of `g` minutes is one when `g * 60 > threshold`.
pub(crate) fn joined_minutes(threshold_secs: u64) -> i64 {
    i64::try_from(threshold_secs / 60).unwrap_or(i64::MAX)
}

/// Sorts minute runs and joins those `join` minutes apart or closer.
pub(crate) fn join_minute_runs(v: &mut Vec<(i64, i64)>, join: i64) {
    v.sort_unstable();
    let mut out: Vec<(i64, i64)> = Vec::with_capacity(v.len());
    for &(s, e) in v.iter() {
        match out.last_mut() {
            Some((_, le)) if s <= le.saturating_add(join) => *le = (*le).max(e),
            _ => out.push((s, e)),
        }
    }
    *v = out;
}

/// Sorts record-id runs and joins those that touch or overlap.
pub(crate) fn join_record_runs(v: &mut Vec<(u64, u64)>) {
    v.sort_unstable();
    let mut out: Vec<(u64, u64)> = Vec::with_capacity(v.len());
    for &(s, e) in v.iter() {
        match out.last_mut() {
            Some((_, le)) if s <= le.saturating_add(1) => *le = (*le).max(e),
            _ => out.push((s, e)),
        }
    }
    *v = out;
}

impl CovAcc {
    /// Counts one event at `t` with record id `rec`; `join` is
    /// [`joined_minutes`] of the observer's silence threshold.
    ///
    /// Why runs and not every minute: a channel that logs every minute of
    /// a week has 10,080 of them, and `vigie serve` keeps every host's
    /// channels for as long as it runs. Only silences are read from the
    /// minutes, so minutes closer than a silence are one run: what is
    /// kept grows with the silences and the record gaps, not with time.
    /// Events arriving out of order add runs that are put in order and
    /// joined whenever their number doubles, so that stays bounded too.
    pub(crate) fn add(&mut self, t: Option<Timestamp>, rec: Option<u64>, join: i64) {
        self.events += 1;
        if let Some(t) = t {
            self.first = min_t(self.first, Some(t));
            self.last = max_t(self.last, Some(t));
            let m = minute(t);
            match self.minutes.last_mut() {
                Some((s, e)) if m >= s.saturating_sub(join) && m <= e.saturating_add(join) => {
                    *s = (*s).min(m);
                    *e = (*e).max(m);
                }
                _ => {
                    self.minutes.push((m, m));
                    if self.minutes.len() > 2 * self.tidy.1 + 64 {
                        join_minute_runs(&mut self.minutes, join);
                        self.tidy.1 = self.minutes.len();
                    }
                }
            }
        }
        if let Some(r) = rec {
            match self.runs.last_mut() {
                Some((_, end)) if end.checked_add(1) == Some(r) => *end = r,
                Some((start, end)) if r >= *start && r <= *end => {}
                _ => {
                    self.runs.push((r, r));
                    if self.runs.len() > 2 * self.tidy.0 + 64 {
                        join_record_runs(&mut self.runs);
                        self.tidy.0 = self.runs.len();
                    }
                }
            }
        }
    }
    pub(crate) fn merge(&mut self, o: CovAcc, join: i64) {
        self.fqdns.extend(o.fqdns);
        self.events += o.events;
        self.first = min_t(self.first, o.first);
        self.last = max_t(self.last, o.last);
        self.runs.extend(o.runs);
        join_record_runs(&mut self.runs);
        self.minutes.extend(o.minutes);
        join_minute_runs(&mut self.minutes, join);
        self.tidy = (self.runs.len(), self.minutes.len());
    }
}

/// Key of a link aggregate.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct LinkKey {
    /// Source host key, or address when no host name was logged.
    pub from: String,
    pub to: String,
    pub account: Option<String>,
    pub method: LinkMethod,
}

#[derive(Debug, Default, Clone)]
pub(crate) struct LinkAcc {
    pub from_address: BTreeSet<String>,
    pub first: Option<Timestamp>,
    pub last: Option<Timestamp>,
    pub count: u64,
    pub minutes: Vec<i64>,
    pub evidence: Vec<Evidence>,
}

impl LinkAcc {
    pub(super) fn merge(&mut self, o: LinkAcc) {
        self.from_address.extend(o.from_address);
        self.first = min_t(self.first, o.first);
        self.last = max_t(self.last, o.last);
        self.count += o.count;
        self.minutes.extend(o.minutes);
        merge_top(&mut self.evidence, o.evidence);
    }
}

/// A generic aggregate: count, first/last, earliest evidence.
#[derive(Debug, Default, Clone)]
pub(crate) struct Agg {
    pub count: u64,
    pub first: Option<Timestamp>,
    pub last: Option<Timestamp>,
    pub sum: u64,
    pub tags: BTreeSet<String>,
    pub evidence: Vec<Evidence>,
}

impl Agg {
    pub(super) fn add(&mut self, t: Option<Timestamp>, ev: Option<Evidence>) {
        self.add_n(t, ev, TOP_EVIDENCE);
    }
    /// [`Agg::add`] keeping the `n` earliest evidence items.
    pub(super) fn add_n(&mut self, t: Option<Timestamp>, ev: Option<Evidence>, n: usize) {
        self.count += 1;
        self.first = min_t(self.first, t);
        self.last = max_t(self.last, t);
        if let Some(ev) = ev {
            push_top_n(&mut self.evidence, ev, n);
        }
    }
    pub(crate) fn merge(&mut self, o: Agg) {
        self.merge_n(o, TOP_EVIDENCE);
    }
    /// [`Agg::merge`] keeping the `n` earliest evidence items.
    pub(crate) fn merge_n(&mut self, o: Agg, n: usize) {
        self.count += o.count;
        self.first = min_t(self.first, o.first);
        self.last = max_t(self.last, o.last);
        self.sum += o.sum;
        self.tags.extend(o.tags);
        merge_top_n(&mut self.evidence, o.evidence, n);
    }
}

#[derive(Debug, Default, Clone)]
pub(crate) struct AccountAcc {
    pub domains: BTreeSet<String>,
    pub hosts: BTreeSet<String>,
    pub addresses: BTreeSet<String>,
    pub first: Option<Timestamp>,
    pub last: Option<Timestamp>,
    /// Earliest 4672 (special privileges at logon).
    pub privileged: Vec<Evidence>,
    /// 4720 creations.
    pub created: Vec<Evidence>,
    /// Accounts that created it (4720 `SubjectUserName`).
    pub created_by: BTreeSet<String>,
    /// Groups added to, with evidence.
    pub groups: BTreeMap<String, Vec<Evidence>>,
}

impl AccountAcc {
    pub(super) fn seen(&mut self, t: Option<Timestamp>, dom: Option<String>) {
        self.first = min_t(self.first, t);
        self.last = max_t(self.last, t);
        if let Some(d) = dom {
            self.domains.insert(d);
        }
    }
    pub(super) fn merge(&mut self, o: AccountAcc) {
        self.domains.extend(o.domains);
        self.hosts.extend(o.hosts);
        self.addresses.extend(o.addresses);
        self.first = min_t(self.first, o.first);
        self.last = max_t(self.last, o.last);
        merge_top(&mut self.privileged, o.privileged);
        merge_top(&mut self.created, o.created);
        self.created_by.extend(o.created_by);
        for (g, ev) in o.groups {
            merge_top(self.groups.entry(g).or_default(), ev);
        }
    }
}

/// A detection, with the entities of its event. Compact, because a hunt
/// keeps every detection (tens of thousands) and the analysis goes over
/// them many times: strings shared with the event, the other rules that
/// matched it and the rule itself are `Arc`s (no allocation per
/// detection), and the evidence pointer is built ([`Det::evidence`]) only
/// for the few detections a scope shows.
#[derive(Debug, Clone)]
pub(crate) struct Det {
    pub time: Option<Timestamp>,
    pub host: Arc<str>,
    pub rule: Arc<RuleMeta>,
    pub accounts: Arc<[String]>,
    pub addresses: Arc<[String]>,
    /// Where the event was read (the evidence's source and locator).
    pub source: Arc<str>,
    pub locator: Locator,
    pub event_id: Option<u32>,
    /// The event named its host: the evidence's `host` is `host`.
    pub named_host: bool,
    /// The evidence summary, when not the one of a rule match
    /// ("{rule title} on {host}").
    pub summary: Option<Box<str>>,
    /// Synthesised by the scope (cleared log), not a rule match.
    pub builtin: bool,
}

impl Det {
    /// The evidence pointer of this detection. Its rule fields are the
    /// detection's rule.
    pub fn evidence(&self) -> Evidence {
        Evidence {
            time: self.time,
            source: self.source.to_string(),
            locator: self.locator.clone(),
            host: self.named_host.then(|| self.host.to_string()),
            event_id: self.event_id,
            rule_id: self.rule.id.clone(),
            rule_title: Some(self.rule.title.clone()),
            level: self.rule.level,
            summary: match &self.summary {
                Some(s) => s.to_string(),
                None => crate::say::det(&self.rule.title, &self.host),
            },
        }
    }

    /// The bytes of the evidence summary, without building it.
    pub(super) fn summary_bytes(&self) -> impl Iterator<Item = u8> + '_ {
        let custom: &[u8] = self.summary.as_deref().map(str::as_bytes).unwrap_or(b"");
        let coded = self
            .summary
            .is_none()
            .then(|| crate::say::det_bytes(&self.rule.title, &self.host));
        custom.iter().copied().chain(coded.into_iter().flatten())
    }

    /// (time, source, locator): which event this is.
    pub fn event_key(&self) -> (Option<Timestamp>, &str, (u8, u64)) {
        (self.time, &self.source, loc_key(&self.locator))
    }

    /// Evidence order ([`ev_key`]) between this detection's evidence and `e`.
    pub fn cmp_evidence(&self, e: &Evidence) -> std::cmp::Ordering {
        self.event_key()
            .cmp(&(e.time, e.source.as_str(), loc_key(&e.locator)))
            .then_with(|| self.summary_bytes().cmp(e.summary.bytes()))
    }

    /// Evidence order between two detections' evidence.
    pub fn cmp_evidence_det(&self, o: &Det) -> std::cmp::Ordering {
        self.event_key()
            .cmp(&o.event_key())
            .then_with(|| self.summary_bytes().cmp(o.summary_bytes()))
    }
}

/// Locator as an ordered, hashable pair (the encoding of [`ev_key`]).
pub(crate) fn loc_key(l: &Locator) -> (u8, u64) {
    l.key()
}

/// [`push_top`] of a detection's evidence, built only when it is kept.
pub(crate) fn push_top_det(v: &mut Vec<Evidence>, d: &Det) {
    // Full and not before the last: the common case when detections come
    // in order, settled with one comparison.
    if v.len() >= TOP_EVIDENCE && v.last().is_some_and(|l| d.cmp_evidence(l).is_ge()) {
        return;
    }
    let pos = v.binary_search_by(|x| d.cmp_evidence(x).reverse());
    if let Err(p) = pos {
        if p < TOP_EVIDENCE {
            v.insert(p, d.evidence());
            v.truncate(TOP_EVIDENCE);
        }
    }
}

/// A process of interest (detected, or a data-moving tool).
#[derive(Debug, Clone)]
pub(crate) struct ProcRaw {
    pub host: String,
    pub time: Option<Timestamp>,
    pub pid: Option<String>,
    pub image: String,
    pub original: Option<String>,
    pub cmdline: Option<String>,
    pub user: Option<String>,
    /// Its own process key: the live scope's horizon keeps its creation
    /// and its ancestors' (its chain is shown).
    pub key: Option<u64>,
    pub parent_key: Option<u64>,
    pub parent_image: Option<String>,
    pub parent_cmdline: Option<String>,
    pub rules: Vec<String>,
    pub evidence: Evidence,
}

#[derive(Debug, Clone)]
pub(crate) struct SvcRaw {
    pub host: String,
    pub time: Option<Timestamp>,
    pub name: String,
    pub image: Option<String>,
    pub account: Option<String>,
    /// Who installed it (4697 `SubjectUserName`).
    pub creator: Option<String>,
    pub rules: Vec<String>,
    pub evidence: Evidence,
}

#[derive(Debug, Clone)]
pub(crate) struct TaskRaw {
    pub host: String,
    pub time: Option<Timestamp>,
    pub name: String,
    pub command: Option<String>,
    pub account: Option<String>,
    pub action: String,
    pub rules: Vec<String>,
    pub evidence: Evidence,
}

#[derive(Debug, Clone)]
pub(crate) struct FileRaw {
    pub host: String,
    pub time: Option<Timestamp>,
    pub path: String,
    pub process: Option<String>,
    pub rules: Vec<String>,
    pub evidence: Evidence,
}

#[derive(Debug, Clone)]
pub(crate) struct ClearedRaw {
    pub host: String,
    pub channel: String,
    pub cleared_channel: String,
    pub time: Option<Timestamp>,
    pub account: Option<String>,
    pub evidence: Evidence,
}

#[derive(Debug, Clone)]
pub(crate) struct VpnRaw {
    pub time: Option<Timestamp>,
    pub user: Option<String>,
    pub remote: Option<String>,
    pub tunnel: Option<String>,
    pub success: bool,
    pub gateway: String,
    pub evidence: Evidence,
}

/// Remote execution seen on the target (WinRM host process, WMI provider).
#[derive(Debug, Clone)]
pub(crate) struct RemoteExec {
    pub host: String,
    pub time: Option<Timestamp>,
    pub user: Option<String>,
    pub method: LinkMethod,
    pub evidence: Evidence,
}

/// A process creation without its parent's image (4688 before Windows
/// 10 logs only the parent's process id). Whether a remote-execution host
/// process started it is known only once every creation is in
/// ([`ProcStore::lookup`] on the merged store): deciding it in the
/// observer would depend on which creations that observer saw first.
#[derive(Debug, Clone)]
pub(crate) struct Orphan {
    pub host: String,
    pub parent_key: u64,
    /// Base name of the image.
    pub image: String,
    pub user: Option<String>,
    /// Its summary is written once the parent is known.
    pub evidence: Evidence,
}

/// The remote-execution method of a process started by `parent` (base
/// name of the parent image), if that parent is the host process of one.
pub(crate) fn remote_method(parent: &str) -> Option<LinkMethod> {
    match parent {
        "wsmprovhost.exe" | "winrshost.exe" => Some(LinkMethod::Winrm),
        "wmiprvse.exe" => Some(LinkMethod::Wmi),
        _ => None,
    }
}

/// Evidence summary of a remote execution.
pub(crate) fn remote_summary(image: &str, parent: &str, m: LinkMethod, host: &str) -> String {
    enc(
        "remote",
        &[image, parent, crate::text::method_code(m), host],
    )
}

#[derive(Debug, Default, Clone)]
pub(crate) struct DnsAcc {
    pub hosts: BTreeSet<String>,
    pub images: BTreeSet<String>,
    pub rules: BTreeSet<String>,
    pub agg: Agg,
}

/// Coverage being collected for one raw (computer, channel) pair.
#[derive(Debug, Clone)]
pub(crate) struct CovSlot {
    pub host: Arc<str>,
    /// The raw computer name gives a host key (else `host` is UNKNOWN).
    pub named: bool,
    pub channel: String,
    pub acc: CovAcc,
}
