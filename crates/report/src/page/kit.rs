//! Building blocks of the page: words for the scope's enums, cells,
//! tables, sections.

use std::fmt::Write as _;

use base64::Engine as _;
use sha2::{Digest, Sha256};
use vigie_detect::Level;
use vigie_event::Timestamp;
use vigie_scope::{
    AccountKind, ActionKind, Compromise, Confidence, ExposureActivity, Host, LevelCounts,
    LinkMethod, Sensitivity, ServiceState, ZoneReach,
};

use crate::html::{escape, escape_truncated};
use crate::text::Voice;
use crate::timeline::LEVEL_NAMES;
use crate::tone::Tone;

/// Longest text shown in one table cell or list item (characters): a
/// host name or rule title of a megabyte must not make a megabyte page.
/// Whole values are in the JSON outputs.
pub(super) const CELL_CHARS: usize = 300;
/// On paper, tables longer than this show their first rows and say how
/// many more are on screen.
pub(super) const PRINT_ROWS: usize = 25;
// ---------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------

pub(super) fn level_rank(l: Option<Level>) -> usize {
    match l {
        None | Some(Level::Informational) => 0,
        Some(Level::Low) => 1,
        Some(Level::Medium) => 2,
        Some(Level::High) => 3,
        Some(Level::Critical) => 4,
    }
}

pub(super) fn level_badge(t: &Voice, l: Option<Level>) -> String {
    let r = level_rank(l);
    let name = if l.is_none() {
        "—"
    } else {
        t.term(LEVEL_NAMES[r])
    };
    format!(r#"<span class="lvl lvl-{r}">{}</span>"#, escape(name))
}

pub(super) fn pill(tone: Tone, text: &str) -> String {
    format!(
        r#"<span class="pill {}">{}</span>"#,
        tone.class(),
        escape(text)
    )
}

pub(super) fn compromise_tone(c: Compromise) -> Tone {
    match c {
        Compromise::Yes => Tone::Red,
        Compromise::Suspected => Tone::Amber,
        Compromise::No => Tone::Green,
    }
}

pub(super) fn compromise_word(t: &Voice, c: Compromise) -> &'static str {
    t.compromise[match c {
        Compromise::No => 0,
        Compromise::Suspected => 1,
        Compromise::Yes => 2,
    }]
}

/// A host with no event of its own is "unknown", never "no sign".
pub(super) fn host_tone(h: &Host) -> Tone {
    match h.compromised {
        Compromise::No if h.events == 0 => Tone::Grey,
        c => compromise_tone(c),
    }
}

pub(super) fn host_word(t: &Voice, h: &Host) -> &'static str {
    match h.compromised {
        Compromise::No if h.events == 0 => t.g_legend_grey,
        c => compromise_word(t, c),
    }
}

pub(super) fn reach_tone(r: ZoneReach) -> Tone {
    match r {
        ZoneReach::Reached => Tone::Red,
        ZoneReach::NotReached => Tone::Green,
        ZoneReach::Unknown => Tone::Grey,
    }
}

pub(super) fn reach_word(t: &Voice, r: ZoneReach) -> &'static str {
    t.reach[match r {
        ZoneReach::Reached => 0,
        ZoneReach::NotReached => 1,
        ZoneReach::Unknown => 2,
    }]
}

pub(super) fn service_tone(s: ServiceState) -> Tone {
    match s {
        ServiceState::Affected => Tone::Red,
        ServiceState::Degraded => Tone::Amber,
        ServiceState::Unaffected => Tone::Green,
        ServiceState::Unknown => Tone::Grey,
    }
}

pub(super) fn service_word(t: &Voice, s: ServiceState) -> &'static str {
    t.service_state[match s {
        ServiceState::Affected => 0,
        ServiceState::Degraded => 1,
        ServiceState::Unaffected => 2,
        ServiceState::Unknown => 3,
    }]
}

pub(super) fn confidence_word(t: &Voice, c: Confidence) -> &'static str {
    t.confidence[match c {
        Confidence::Low => 0,
        Confidence::Medium => 1,
        Confidence::High => 2,
    }]
}

pub(super) fn link_index(m: LinkMethod) -> usize {
    match m {
        LinkMethod::Rdp => 0,
        LinkMethod::Psexec => 1,
        LinkMethod::SmbAdminShare => 2,
        LinkMethod::LogonType3 => 3,
        LinkMethod::ExplicitCreds => 4,
        LinkMethod::Vpn => 5,
        LinkMethod::Winrm => 6,
        LinkMethod::Wmi => 7,
        LinkMethod::RemoteTask => 8,
        LinkMethod::RemoteService => 9,
        LinkMethod::Dcom => 10,
    }
}

pub(super) fn action_word(t: &Voice, a: ActionKind) -> String {
    t.term_cap(match a {
        ActionKind::RevokeRemoteAccess => "revoke_remote_access",
        ActionKind::DisableAccount => "disable_account",
        ActionKind::DeleteAccount => "delete_account",
        ActionKind::ResetPassword => "reset_password",
        ActionKind::IsolateHost => "isolate_host",
        ActionKind::BlockAddress => "block_address",
        ActionKind::BlockDomain => "block_domain",
        ActionKind::RemoveService => "remove_service",
        ActionKind::ResetKrbtgt => "reset_krbtgt",
        ActionKind::CollectLogs => "collect_logs",
    })
}

pub(super) fn exposure_word(t: &Voice, a: ExposureActivity) -> &'static str {
    t.exposure[match a {
        ExposureActivity::Archive => 0,
        ExposureActivity::Copy => 1,
        ExposureActivity::Upload => 2,
        ExposureActivity::ShareAccess => 3,
        ExposureActivity::Transfer => 4,
    }]
}

pub(super) fn account_kind_word(t: &Voice, k: AccountKind) -> &'static str {
    t.account_kind[match k {
        AccountKind::Admin => 0,
        AccountKind::Service => 1,
        AccountKind::Provider => 2,
        AccountKind::User => 3,
        AccountKind::Machine => 4,
        AccountKind::Builtin => 5,
        AccountKind::Unknown => 6,
    }]
}

pub(super) fn sensitivity_word(t: &Voice, s: Sensitivity) -> String {
    t.term_cap(match s {
        Sensitivity::Public => "public",
        Sensitivity::Internal => "internal",
        Sensitivity::Confidential => "confidential",
        Sensitivity::Personal => "personal",
        Sensitivity::SpecialCategory => "special_category",
    })
}

/// `203.0.113.45 (public address)`: the kind of an address in words.
pub(super) fn address_kind_word(t: &Voice, k: vigie_scope::AddressKind) -> &'static str {
    use vigie_scope::AddressKind as K;
    match k {
        K::External => t.g_public_address,
        K::Vpn => t.g_vpn_address,
        K::Internal | K::Local => t.g_internal_address,
        K::Unknown => t.unknown,
    }
}

/// `domain_controller` → `domain controller`.
pub(super) fn humanise(s: &str) -> String {
    s.replace('_', " ")
}

/// A host role (`domain_controller`) in the reader's words: the glossary's
/// term for the roles Vigie understands, the assets file's own text
/// otherwise.
pub(super) fn role_word(t: &Voice, role: &str) -> String {
    match t.term(role) {
        same if same == role => humanise(role),
        term => term.to_string(),
    }
}

/// `2026-01-10 02:11 CET` that may break between the date and the hour
/// (a narrow table column) but never inside either.
fn breakable_time(s: &str) -> String {
    match s.split_once(' ') {
        Some((date, rest)) => format!(
            r#"<span class="nowrap">{}</span> <span class="nowrap">{}</span>"#,
            escape(date),
            escape(rest)
        ),
        None => escape(s),
    }
}

pub(super) fn time_html(t: &Voice, ts: Option<Timestamp>) -> String {
    match ts {
        Some(ts) => format!(
            r#"<time datetime="{}" title="{}">{}</time>"#,
            ts.to_rfc3339(),
            escape(&t.utc_time(&ts)),
            breakable_time(&t.short_time(&ts))
        ),
        None => "—".to_string(),
    }
}

/// Escaped, comma-separated, at most `max` items then "+N".
pub(super) fn list(items: &[String], max: usize) -> String {
    if items.is_empty() {
        return "—".to_string();
    }
    let mut out = items
        .iter()
        .take(max)
        .map(|s| escape_truncated(s, CELL_CHARS))
        .collect::<Vec<_>>()
        .join(", ");
    if items.len() > max {
        let _ = write!(out, r#" <span class="small">+{}</span>"#, items.len() - max);
    }
    out
}

/// Services of a host; `*` (every service, e.g. a domain controller) in words.
pub(super) fn services_list(t: &Voice, services: &[String]) -> String {
    let words: Vec<String> = services
        .iter()
        .map(|s| {
            if s == "*" {
                t.all_services.to_string()
            } else {
                s.clone()
            }
        })
        .collect();
    list(&words, 4)
}

/// Escaped, one per line (reasons are sentences: commas would blur them).
pub(super) fn lines(items: &[String], max: usize) -> String {
    if items.is_empty() {
        return "—".to_string();
    }
    let mut out = items
        .iter()
        .take(max)
        .map(|s| escape_truncated(s, CELL_CHARS))
        .collect::<Vec<_>>()
        .join("<br>");
    if items.len() > max {
        let _ = write!(
            out,
            r#"<br><span class="small">+{}</span>"#,
            items.len() - max
        );
    }
    out
}

pub(super) fn level_counts_html(t: &Voice, c: &LevelCounts) -> (String, u64) {
    let total = c.informational + c.low + c.medium + c.high + c.critical + c.unset;
    let mut parts = Vec::new();
    for (n, rank) in [(c.critical, 4), (c.high, 3), (c.medium, 2)] {
        if n > 0 {
            parts.push(format!(
                r#"<span class="cnt lvl-{rank}" title="{n} {}">{n}</span>"#,
                escape(t.term(LEVEL_NAMES[rank]))
            ));
        }
    }
    let low = c.low + c.informational + c.unset;
    if low > 0 {
        parts.push(format!(r#"<span class="small">+{low}</span>"#));
    }
    if parts.is_empty() {
        ("—".into(), 0)
    } else {
        (parts.join(" "), total)
    }
}

/// A table cell: HTML content and an optional sort key.
pub(super) struct Cell {
    pub(super) html: String,
    pub(super) sort: Option<String>,
    pub(super) class: &'static str,
}

pub(super) fn c(html: String) -> Cell {
    Cell {
        html,
        sort: None,
        class: "",
    }
}
pub(super) fn ct(text: &str) -> Cell {
    c(escape_truncated(text, CELL_CHARS))
}
/// A prose cell (why, reason, description, command line): given room,
/// so that the table's automatic layout never squeezes the sentences into
/// a column one word wide while a date column takes the space.
pub(super) fn wide(cell: Cell) -> Cell {
    Cell {
        class: "wide",
        ..cell
    }
}

/// A name (host, account): kept on one line when it is name-sized, so
/// `SRV-RDS01` never breaks at its hyphen; a longer one (hostile or not)
/// wraps anywhere rather than widening the table.
pub(super) fn name_html(s: &str) -> String {
    if s.chars().count() <= 32 {
        format!(r#"<span class="nowrap">{}</span>"#, escape(s))
    } else {
        escape_truncated(s, CELL_CHARS)
    }
}

/// A bold name cell (see [`name_html`]).
pub(super) fn cname(s: &str) -> Cell {
    Cell {
        class: "strong",
        ..c(name_html(s))
    }
}

pub(super) fn ctime(t: &Voice, ts: Option<Timestamp>) -> Cell {
    Cell {
        html: time_html(t, ts),
        sort: Some(ts.map(|t| t.to_rfc3339()).unwrap_or_default()),
        class: "time",
    }
}
pub(super) fn cnum(t: &Voice, n: u64) -> Cell {
    Cell {
        html: t.number(n),
        sort: Some(n.to_string()),
        class: "num",
    }
}

pub(super) struct Table<'a> {
    pub(super) id: Option<&'a str>,
    head: Vec<(&'a str, bool)>,
    rows: Vec<(String, Vec<Cell>)>,
}

impl<'a> Table<'a> {
    pub(super) fn new(head: &[(&'a str, bool)]) -> Self {
        Table {
            id: None,
            head: head.to_vec(),
            rows: Vec::new(),
        }
    }
    pub(super) fn row(&mut self, cells: Vec<Cell>) {
        self.rows.push((String::new(), cells));
    }
    pub(super) fn row_attrs(&mut self, attrs: String, cells: Vec<Cell>) {
        self.rows.push((attrs, cells));
    }

    /// The table, then what it leaves out: `total` is how many rows the
    /// scope has (more than were added when the table was capped), so
    /// the reader is told, never silently short-changed; on paper, rows
    /// past [`PRINT_ROWS`] are left for the screen, and said so.
    ///
    /// Each cell carries its column's name (`data-label`): on a phone the
    /// rows become stacked cards that name every value.
    pub(super) fn render(&self, out: &mut String, t: &Voice, total: usize) {
        let capped = self.rows.len() > PRINT_ROWS;
        let _ = write!(
            out,
            r#"<div class="tablewrap"><table class="sortable{}""#,
            if capped { " printcap" } else { "" }
        );
        if let Some(id) = self.id {
            let _ = write!(out, r#" id="{id}""#);
        }
        out.push_str("><thead><tr>");
        for (h, num) in &self.head {
            let _ = write!(
                out,
                r#"<th scope="col"{}>{}</th>"#,
                if *num { r#" class="num""# } else { "" },
                escape(h)
            );
        }
        out.push_str("</tr></thead><tbody>");
        for (attrs, cells) in &self.rows {
            let _ = write!(out, "<tr{attrs}>");
            for (i, cell) in cells.iter().enumerate() {
                out.push_str("<td");
                if !cell.class.is_empty() {
                    let _ = write!(out, r#" class="{}""#, cell.class);
                }
                if let Some((h, _)) = self.head.get(i) {
                    let _ = write!(out, r#" data-label="{}""#, escape(h));
                }
                if let Some(k) = &cell.sort {
                    let _ = write!(out, r#" data-sort="{}""#, escape_truncated(k, 200));
                }
                let _ = write!(out, ">{}</td>", cell.html);
            }
            out.push_str("</tr>");
        }
        out.push_str("</tbody></table></div>");
        more_rows(out, t, total.saturating_sub(self.rows.len()));
        if capped {
            let _ = write!(
                out,
                r#"<p class="printonly small">+{} {}</p>"#,
                t.number((self.rows.len() - PRINT_ROWS) as u64),
                escape(t.more_rows_print)
            );
        }
    }
}

pub(super) fn more_rows(out: &mut String, t: &Voice, hidden: usize) {
    if hidden > 0 {
        let _ = write!(
            out,
            r#"<p class="more">+{} {}</p>"#,
            t.number(hidden as u64),
            escape(t.more_rows)
        );
    }
}

pub(super) fn open_section(out: &mut String, id: &str, title: &str, intro: &str) {
    let _ = write!(
        out,
        r#"<section class="card" id="{id}"><h2>{}</h2>"#,
        escape(title)
    );
    if !intro.is_empty() {
        let _ = write!(out, r#"<p class="intro">{}</p>"#, escape(intro));
    }
}

pub(super) fn empty(out: &mut String, text: &str) {
    let _ = write!(out, r#"<p class="empty">{}</p>"#, escape(text));
}

pub(super) fn csp_hash(s: &str) -> String {
    let digest = Sha256::digest(s.as_bytes());
    format!(
        "'sha256-{}'",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}
