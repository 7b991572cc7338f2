//! Triage through the API and the console's forms: status, assignee,
//! comment on a detection or an incident; false-positive filters made,
//! edited (each version kept), removed — and the engine rebuilt with
//! them and swapped in, so that they apply to new events at once,
//! without a restart.
//!
//! Every change is kept in the triage store (`vigie_store::triage`) with
//! who and when, and written to the audit log.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use vigie_console::audit::{Action, Outcome};
use vigie_console::{Principal, Role};
use vigie_store::triage::{
    fold, Change, Entry, FilterVersion, Removal, Status, Target, TargetKind,
};

use crate::{error, ReadTenant, Shared};

/// Who may triage: administrators and analysts (the other roles read).
pub fn may_triage(role: Role) -> bool {
    matches!(role, Role::Admin | Role::Analyst)
}

/// Where active filters are written for the engine to load.
pub const FILTERS_DIR: &str = "filters/active";

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// A change asked for (JSON, or the console's form). An unknown key is
/// refused, not ignored: a client's `"tenant": "quimper"` in a body must
/// not pass for a change of that commune (issue 16).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Request {
    kind: String,
    id: String,
    status: Option<String>,
    /// Empty: nobody.
    assignee: Option<String>,
    comment: Option<String>,
    /// Where a form goes back to (a path of this server).
    back: Option<String>,
    /// The console form's CSRF token (checked before the body is read)
    /// and its language (the page's): the form's own fields.
    #[serde(default)]
    #[allow(dead_code)]
    csrf: Option<String>,
    #[serde(default)]
    #[allow(dead_code)]
    lang: Option<String>,
}

/// The fields of a state-changing body, each one `allowed` or the
/// console form's own (`csrf`, `back`, `lang`): an unknown key is a 400 naming
/// it. Why: a body's `"tenant": "quimper"` was ignored, and the change
/// went to the caller's own commune without a word (issue 16).
pub(crate) fn only_keys(
    m: &serde_json::Map<String, Value>,
    allowed: &[&str],
) -> Result<(), String> {
    match m
        .keys()
        .find(|k| !allowed.contains(&k.as_str()) && !matches!(k.as_str(), "csrf" | "back" | "lang"))
    {
        Some(k) => Err(format!(
            "unknown field `{k}` (expected {})",
            allowed.join(", ")
        )),
        None => Ok(()),
    }
}

/// Whether the body is a form (the console's pages) rather than JSON.
fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"))
}

pub(crate) fn parse<T: for<'de> Deserialize<'de>>(
    headers: &HeaderMap,
    body: &[u8],
) -> Result<T, String> {
    if is_form(headers) {
        let fields = vigie_console::web::form_fields(body);
        serde_json::from_value(json!(fields)).map_err(|e| e.to_string())
    } else {
        serde_json::from_slice(body).map_err(|e| e.to_string())
    }
}

/// A path of this server to go back to (never another site's).
fn back_to(back: Option<&str>) -> Option<String> {
    back.filter(|b| b.starts_with('/') && !b.starts_with("//") && !b.contains('\\'))
        .map(str::to_string)
}

/// The answer: back to the page for a form, JSON otherwise.
pub(crate) fn answer(headers: &HeaderMap, back: Option<&str>, body: Value) -> Response {
    match back_to(back).filter(|_| is_form(headers)) {
        Some(to) => (StatusCode::SEE_OTHER, [(header::LOCATION, to)]).into_response(),
        None => Json(body).into_response(),
    }
}

pub(crate) fn who_and_from(
    p: &Principal,
    ci: Option<axum::Extension<axum::extract::ConnectInfo<SocketAddr>>>,
) -> (String, String) {
    (p.who(), crate::client(ci).to_string())
}

/// `POST /api/v1/triage`: `{kind, id, status?, assignee?, comment?}`.
pub(crate) async fn post(
    State(s): State<Shared>,
    axum::Extension(p): axum::Extension<Principal>,
    ci: Option<axum::Extension<axum::extract::ConnectInfo<SocketAddr>>>,
    ReadTenant(tenant): ReadTenant,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let req: Request = match parse(&headers, &body) {
        Ok(r) => r,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                &format!("a triage change is {{kind: detection|incident, id, status?: new|acknowledged|resolved|false_positive, assignee?, comment?}}: {e}"),
            )
        }
    };
    let Some(kind) = TargetKind::parse(&req.kind) else {
        return error(StatusCode::BAD_REQUEST, "kind is detection or incident");
    };
    let status = match req.status.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(x) => match Status::parse(x) {
            Some(st) => Some(st),
            None => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "status is new, acknowledged, resolved or false_positive",
                )
            }
        },
    };
    if req
        .comment
        .as_ref()
        .is_some_and(|c| c.chars().count() > 10_000)
        || req
            .assignee
            .as_ref()
            .is_some_and(|a| a.chars().count() > 200)
    {
        return error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "comment (10,000 characters) or assignee (200) too long",
        );
    }
    // The target must exist: triage of nothing is a mistake said.
    let detection = match kind {
        TargetKind::Detection => match crate::pages::find_detection(&s, &tenant, &req.id).await {
            Ok(Some(d)) => Some(d),
            Ok(None) => return error(StatusCode::NOT_FOUND, &format!("no detection {}", req.id)),
            Err(r) => return r,
        },
        TargetKind::Incident => {
            let live = s.live.clone();
            let t = tenant.clone();
            let known = tokio::task::spawn_blocking(move || live.answer(&t))
                .await
                .ok()
                .flatten()
                .is_some_and(|a| a.live_ids.contains(&req.id));
            if !known {
                return error(
                    StatusCode::NOT_FOUND,
                    &format!("no incident {} in the live scope", req.id),
                );
            }
            None
        }
    };
    let target = Target {
        kind,
        id: req.id.clone(),
    };
    let current = match s.triage.entries(&tenant).await {
        Ok(e) => fold(&e).remove(&target),
        Err(e) => return crate::unavailable(&format!("triage unreadable now: {e}")),
    };
    let (who, from) = who_and_from(&p, ci);
    let mut changes = Vec::new();
    if let Some(st) = status.filter(|st| current.as_ref().map_or(Status::New, |c| c.status) != *st)
    {
        changes.push((
            Change::Status { status: st },
            Action::TriageStatus,
            format!("{}:{}={}", req.kind, req.id, st.key()),
        ));
    }
    if let Some(a) = &req.assignee {
        let a = a.trim();
        let new = (!a.is_empty()).then(|| a.to_string());
        if current.as_ref().and_then(|c| c.assignee.clone()) != new {
            changes.push((
                Change::Assign {
                    assignee: new.clone(),
                },
                Action::TriageAssign,
                format!("{}:{}={}", req.kind, req.id, new.as_deref().unwrap_or("")),
            ));
        }
    }
    if let Some(c) = req
        .comment
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty())
    {
        changes.push((
            Change::Comment {
                text: c.to_string(),
            },
            Action::TriageComment,
            format!("{}:{}", req.kind, req.id),
        ));
    }
    for (change, action, audit_target) in changes {
        let entry = Entry {
            time: now(),
            who: who.clone(),
            tenant: tenant.clone(),
            target: target.clone(),
            change,
        };
        if let Err(e) = s.triage.record(entry).await {
            return crate::unavailable(&format!("not kept, send again: {e}"));
        }
        s.console
            .audit(&who, &from, action, &audit_target, Outcome::Success);
    }
    // A detection marked false positive gets its filter (once).
    let mut filter = None;
    if let (Some(Status::FalsePositive), Some(d)) = (status, &detection) {
        match false_positive_filter(&s, &tenant, &who, &from, d).await {
            Ok(f) => filter = f,
            Err(e) => {
                return error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    &format!("the status is kept, but the filter could not be made: {e}"),
                )
            }
        }
    }
    let state = match s.triage.entries(&tenant).await {
        Ok(e) => fold(&e).remove(&target),
        Err(_) => None,
    };
    answer(
        &headers,
        req.back.as_deref(),
        json!({ "state": state, "filter": filter }),
    )
}

/// `GET /api/v1/triage`: where every triaged detection and incident of
/// the tenant stands, with its history.
pub(crate) async fn list(State(s): State<Shared>, ReadTenant(tenant): ReadTenant) -> Response {
    match s.triage.entries(&tenant).await {
        Ok(e) => Json(fold(&e).into_values().collect::<Vec<_>>()).into_response(),
        Err(e) => crate::unavailable(&format!("triage unreadable now: {e}")),
    }
}

/// `GET /api/v1/filters`: every false-positive filter, versions and
/// removal included.
pub(crate) async fn filters(State(s): State<Shared>, ReadTenant(tenant): ReadTenant) -> Response {
    match s.triage.filters().await {
        Ok(f) => Json(
            f.into_iter()
                .filter(|f| f.tenant == tenant)
                .collect::<Vec<_>>(),
        )
        .into_response(),
        Err(e) => crate::unavailable(&format!("filters unreadable now: {e}")),
    }
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct Edit {
    yaml: String,
    back: Option<String>,
}

/// `POST /api/v1/filters/{id}`: a new version (`{"yaml": …}` or the
/// form's `yaml`), checked to be one Sigma filter before it is kept and
/// applied.
pub(crate) async fn edit(
    State(s): State<Shared>,
    axum::Extension(p): axum::Extension<Principal>,
    ci: Option<axum::Extension<axum::extract::ConnectInfo<SocketAddr>>>,
    ReadTenant(tenant): ReadTenant,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let req: Edit = match parse(&headers, &body) {
        Ok(r) => r,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                &format!("a filter version is {{\"yaml\": \"…\"}}: {e}"),
            )
        }
    };
    let existing = match s.triage.filters().await {
        Ok(f) => f.into_iter().find(|f| f.id == id && f.tenant == tenant),
        Err(e) => return crate::unavailable(&format!("filters unreadable now: {e}")),
    };
    let Some(existing) = existing else {
        return error(StatusCode::NOT_FOUND, &format!("no filter {id}"));
    };
    if existing.removed.is_some() {
        return error(StatusCode::CONFLICT, &format!("filter {id} was removed"));
    }
    if let Err(why) = check_filter(&req.yaml) {
        return error(StatusCode::BAD_REQUEST, &format!("not kept: {why}"));
    }
    let (who, from) = who_and_from(&p, ci);
    let version = FilterVersion {
        filter: id.clone(),
        version: 0,
        time: now(),
        who: who.clone(),
        tenant,
        yaml: req.yaml,
        from: existing.versions.last().and_then(|v| v.from.clone()),
    };
    let _rules = s.rules_change.lock().await;
    let kept = match s.triage.put_filter(version).await {
        Ok(v) => v,
        Err(e) => return crate::unavailable(&format!("not kept, send again: {e}")),
    };
    s.console.audit(
        &who,
        &from,
        Action::FilterEdit,
        &format!("{id} v{}", kept.version),
        Outcome::Success,
    );
    if let Err(e) = crate::rules::apply(&s).await {
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("version {} kept but not applied: {e}", kept.version),
        );
    }
    answer(&headers, req.back.as_deref(), json!({ "filter": kept }))
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct Back {
    back: Option<String>,
}

/// `POST /api/v1/filters/{id}/remove`: no longer applied (its versions
/// stay).
pub(crate) async fn remove(
    State(s): State<Shared>,
    axum::Extension(p): axum::Extension<Principal>,
    ci: Option<axum::Extension<axum::extract::ConnectInfo<SocketAddr>>>,
    ReadTenant(tenant): ReadTenant,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let back: Back = parse(&headers, &body).unwrap_or_default();
    let (who, from) = who_and_from(&p, ci);
    let _rules = s.rules_change.lock().await;
    match s.triage.filters().await {
        Ok(f) if f.iter().any(|f| f.id == id && f.tenant == tenant) => {}
        Ok(_) => return error(StatusCode::NOT_FOUND, &format!("no filter {id}")),
        Err(e) => return crate::unavailable(&format!("filters unreadable now: {e}")),
    }
    let removal = Removal {
        filter: id.clone(),
        time: now(),
        who: who.clone(),
    };
    if let Err(e) = s.triage.remove_filter(removal).await {
        return match e {
            vigie_store::StoreError::Invalid(m) => error(StatusCode::NOT_FOUND, &m),
            e => crate::unavailable(&format!("not kept, send again: {e}")),
        };
    }
    s.console
        .audit(&who, &from, Action::FilterRemove, &id, Outcome::Success);
    if let Err(e) = crate::rules::apply(&s).await {
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("removal kept but not applied: {e}"),
        );
    }
    answer(&headers, back.back.as_deref(), json!({ "removed": id }))
}

/// Why `yaml` is not exactly one loadable Sigma filter, if it is not.
pub fn check_filter(yaml: &str) -> Result<(), String> {
    if yaml.len() > 64 << 10 {
        return Err("a filter of more than 64 KiB".into());
    }
    let (_, report) = vigie_detect::load_str(
        yaml,
        std::path::Path::new("filter.yml"),
        &vigie_detect::LoadOptions::default(),
    );
    if let Some(f) = report.failures.first() {
        return Err(f.reason.clone());
    }
    if report.filter != 1 || report.detection != 0 || report.correlation != 0 {
        return Err(format!(
            "one Sigma filter document is expected ({} filter, {} detection, {} correlation found)",
            report.filter, report.detection, report.correlation
        ));
    }
    Ok(())
}

/// A Sigma string (double-quoted, JSON escapes are YAML's) matched as
/// written: Sigma's wildcards `*` and `?` escaped.
fn sigma_value(v: &str) -> String {
    let mut out = String::with_capacity(v.len() + 2);
    let chars: Vec<char> = v.chars().collect();
    for (i, c) in chars.iter().enumerate() {
        match c {
            '*' | '?' => {
                out.push('\\');
                out.push(*c);
            }
            // A backslash before a wildcard or a backslash would escape
            // it: doubled, it stays a backslash.
            '\\' if matches!(chars.get(i + 1), Some('*' | '?' | '\\')) => out.push_str("\\\\"),
            c => out.push(*c),
        }
    }
    serde_json::to_string(&out).unwrap_or_default()
}

/// The Sigma filter of a detection marked false positive: for its rule,
/// drop the events of its host whose matched fields have the same
/// values (pySigma's and rsigma's meta-filter, `not selection`).
pub fn filter_yaml(id: &str, who: &str, time: &str, d: &Value) -> String {
    let rule = d["rule_id"].as_str().unwrap_or_default();
    let title = d["rule_title"].as_str().unwrap_or_default();
    let computer = d["computer"].as_str();
    let mut fields: BTreeMap<String, String> = BTreeMap::new();
    if let Some(c) = computer {
        fields.insert("Computer".into(), c.to_string());
    }
    for m in d["matched"].as_array().into_iter().flatten() {
        if let (Some(f), Some(v)) = (m["field"].as_str(), m["value"].as_str()) {
            fields.entry(f.to_string()).or_insert_with(|| v.to_string());
        }
    }
    let mut selection = String::new();
    for (f, v) in &fields {
        selection.push_str(&format!(
            "        {}: {}\n",
            serde_json::to_string(f).unwrap_or_default(),
            sigma_value(v)
        ));
    }
    format!(
        "title: {title}\nid: {id}\nstatus: experimental\ndescription: {desc}\nauthor: {author}\ndate: {date}\nlogsource: {{}}\nfilter:\n    rules:\n        - {rule}\n    selection:\n{selection}    condition: not selection\n",
        title = serde_json::to_string(&format!("False positive: {title} on {}", computer.unwrap_or("any host"))).unwrap_or_default(),
        desc = serde_json::to_string(&format!(
            "Made in the Vigie console by {who} at {time} from detection {} marked false positive: for this rule, the events of this host with these values are dropped.",
            d["id"].as_str().unwrap_or_default()
        )).unwrap_or_default(),
        author = serde_json::to_string(who).unwrap_or_default(),
        date = time.get(..10).unwrap_or(time),
        rule = serde_json::to_string(rule).unwrap_or_default(),
    )
}

/// A UUID-shaped id (Sigma's `id`) from a detection id and a time.
fn filter_id(detection: &str, time: &str) -> String {
    use sha2::Digest;
    let d = sha2::Sha256::digest(format!("{detection}|{time}").as_bytes());
    let h: String = d.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-5{}-a{}-{}",
        &h[..8],
        &h[8..12],
        &h[13..16],
        &h[17..20],
        &h[20..32]
    )
}

/// Makes, keeps and applies the filter of a detection marked false
/// positive, unless one made from it is applied already.
async fn false_positive_filter(
    s: &Shared,
    tenant: &str,
    who: &str,
    from: &str,
    d: &Value,
) -> Result<Option<FilterVersion>, String> {
    let did = d["id"].as_str().unwrap_or_default().to_string();
    if d["kind"] != "detection" {
        // An indicator or a correlation has no rule selection to filter.
        return Ok(None);
    }
    let _rules = s.rules_change.lock().await;
    let from_this = Target {
        kind: TargetKind::Detection,
        id: did.clone(),
    };
    let existing = s.triage.filters().await.map_err(|e| e.to_string())?;
    if let Some(f) = existing.iter().find(|f| {
        f.active()
            .is_some_and(|v| v.from.as_ref() == Some(&from_this))
    }) {
        return Ok(f.active().cloned());
    }
    let time = now();
    let id = filter_id(&did, &time);
    let yaml = filter_yaml(&id, who, &time, d);
    check_filter(&yaml)?;
    let kept = s
        .triage
        .put_filter(FilterVersion {
            filter: id.clone(),
            version: 0,
            time,
            who: who.to_string(),
            tenant: tenant.to_string(),
            yaml,
            from: Some(from_this),
        })
        .await
        .map_err(|e| e.to_string())?;
    s.console.audit(
        who,
        from,
        Action::FilterCreate,
        &format!("{id} from detection {did}"),
        Outcome::Success,
    );
    crate::rules::apply(s).await?;
    Ok(Some(kept))
}

/// Writes the applied version of each filter to `DATA/filters/active/`
/// (written aside, then put in place whole), and gives the rule sources
/// with that directory added when it holds any: what `serve` compiles at
/// start and after each change of the filters. The triage store is the
/// record; the directory is rewritten from it every time.
pub fn with_filters(
    data: &std::path::Path,
    mut hunt: vigie_hunt::HuntConfig,
    filters: &[vigie_store::triage::Filter],
) -> Result<vigie_hunt::HuntConfig, String> {
    let dir = data.join(FILTERS_DIR);
    let staging = data.join("filters/active.new");
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::create_dir_all(&staging).map_err(|e| format!("{}: {e}", staging.display()))?;
    let mut any = false;
    for f in filters {
        if let Some(v) = f.active() {
            let p = staging.join(format!("{}.yml", f.id));
            std::fs::write(&p, &v.yaml).map_err(|e| format!("{}: {e}", p.display()))?;
            any = true;
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::rename(&staging, &dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    if any {
        hunt.rules.push(vigie_hunt::RuleSource::Path(dir));
    }
    Ok(hunt)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_false_positive_makes_a_loadable_filter_of_its_host_and_values() {
        let d = json!({
            "id": "abc", "kind": "detection", "rule_id": "4231f0a0-8144-47e6-85fa-c1a8b58617d4",
            "rule_title": "Ransom Note", "computer": "PC-INFO-01.ccpab.local",
            "matched": [
                {"selection": "selection", "field": "TargetFilename", "value": "C:\\Users\\Public\\LISEZ-MOI*.txt"},
                {"selection": "selection", "field": "TargetFilename", "value": "other"},
                {"selection": "keywords", "field": null, "value": "x"}
            ]
        });
        let y = filter_yaml(
            "11111111-2222-5333-a444-555555555555",
            "anne \"la\" DSI",
            "2026-12-05T10:00:00Z",
            &d,
        );
        check_filter(&y).unwrap_or_else(|e| panic!("{e}\n{y}"));
        assert!(
            y.contains("\"Computer\": \"PC-INFO-01.ccpab.local\""),
            "{y}"
        );
        assert!(
            y.contains(r#""TargetFilename": "C:\\Users\\Public\\LISEZ-MOI\\*.txt""#),
            "{y}"
        );
        assert!(!y.contains("other"), "one value per field: {y}");
        assert!(y.contains("condition: not selection"));
        assert!(
            check_filter("title: x\nlogsource: {}\ndetection:\n  s: {a: 1}\n  condition: s\n")
                .is_err()
        );
        assert!(check_filter("not: [yaml").is_err());
    }

    #[test]
    fn forms_go_back_to_this_server_only() {
        assert_eq!(
            back_to(Some("/incidents/L1?lang=en")).as_deref(),
            Some("/incidents/L1?lang=en")
        );
        assert_eq!(back_to(Some("//evil.example/")), None);
        assert_eq!(back_to(Some("https://evil.example/")), None);
        assert_eq!(back_to(Some("/\\evil.example")), None);
    }
}
