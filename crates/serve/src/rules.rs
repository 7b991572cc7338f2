//! The rules in force: what the engine judges new events with, what
//! failed to load and why, which rules an administrator turned off (and
//! why), and the SigmaHQ snapshot they come from — the console's `/rules`
//! page and `/api/v1/rules`; turning a rule off or on, and updating the
//! SigmaHQ rules, without a restart.
//!
//! Why a rule is turned off in the engine and not hidden in the output:
//! a rule that fires on every backup run buries the week of preparation
//! under noise; left out at load (as `--min-level` leaves rules out), it
//! costs nothing and every other rule, correlation included, judges as
//! before. That is the deployment's administrator's act for every tenant.
//! A commune's administrator turns a rule off for its own events only:
//! the engine stays one for every tenant, and the rule's matches on that
//! commune's events are left out ([`crate::worker::TenantOff`]: looked up
//! only when a rule matched). Each switch is kept with its reason in the
//! triage store and the audit log; a false positive of one host is a
//! filter instead (triage).

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;

use crate::http::Query;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;
use vigie_console::audit::{Action, Outcome};
use vigie_console::pages::{self as ui, Table};
use vigie_console::Principal;
use vigie_detect::{LoadReport, RuleMeta};
use vigie_lang::{tr, Lang};
use vigie_report::html::escape;
use vigie_rules::sigmahq::SnapshotStatus;
use vigie_store::triage::{disabled_by_tenant, disabled_rules, RuleSwitch, TriageStore};

use crate::pages::Reader;
use crate::triage::{answer, parse, who_and_from};
use crate::{error, Caller, Shared};

/// What the last compilation of the rules said: kept for the page, swapped
/// with the engine.
#[derive(Debug, Default)]
pub(crate) struct Loaded {
    pub(crate) report: LoadReport,
    pub(crate) sigmahq: Option<SnapshotStatus>,
    /// The false-positive filters and rule switches compiled in, as
    /// counted by [`triage_version`]: with `--db`, another node's change
    /// moves it ([`follow_shared`]).
    pub(crate) triage_version: u64,
    /// The rules each commune turned off for its own events, as compiled
    /// in (the worker's mask is made from it).
    pub(crate) by_tenant:
        std::collections::BTreeMap<String, std::collections::BTreeMap<String, RuleSwitch>>,
}

impl Loaded {
    /// The mask the worker applies ([`crate::worker::TenantOff`]).
    pub(crate) fn tenant_off(&self) -> Arc<crate::worker::TenantOff> {
        Arc::new(
            self.by_tenant
                .iter()
                .map(|(t, off)| (t.clone(), off.keys().cloned().collect()))
                .collect(),
        )
    }
}

/// The keys of the rules off for `tenant`'s events now: turned off for
/// every tenant, or by the commune for itself (a retro-hunt leaves them
/// out as the worker does).
pub(crate) fn switched_off(
    switches: &[RuleSwitch],
    tenant: &str,
) -> std::collections::HashSet<String> {
    let mut off: std::collections::HashSet<String> = disabled_rules(switches).into_keys().collect();
    if let Some(own) = disabled_by_tenant(switches).remove(tenant) {
        off.extend(own.into_keys());
    }
    off
}

/// How many changes the filters and rule switches hold: every filter
/// version, removal and switch is kept and never undone, so the count
/// moves with each change, whichever node made it.
fn triage_version(
    filters: &[vigie_store::triage::Filter],
    switches: &[vigie_store::triage::RuleSwitch],
) -> u64 {
    let f: usize = filters
        .iter()
        .map(|f| f.versions.len() + usize::from(f.removed.is_some()))
        .sum();
    (f + switches.len()) as u64
}

/// How often a node with `--db` asks whether another node changed the
/// filters or the rules turned off.
const FOLLOW_EVERY: std::time::Duration = std::time::Duration::from_secs(3);

/// How often a change of another node that did not apply here is tried
/// again while nothing moves.
const RETRY_FAILED_EVERY: std::time::Duration = std::time::Duration::from_secs(300);

/// With `--db`, for as long as the server runs: a false-positive filter
/// or a rule switch made on another node (in PostgreSQL) rebuilds this
/// node's engine too, as the change does on the node that took it.
///
/// A change that does not apply (a filter that does not compile here) is
/// said once and tried again when the state moves, else only every
/// [`RETRY_FAILED_EVERY`] (the failure may have been the database's, for
/// a while): compiling the rules every few seconds for a state known to
/// fail would only burn CPU and fill the log.
pub(crate) async fn follow_shared(s: Shared) {
    let mut said_down = false;
    // The state whose application failed, left alone until it moves.
    let mut failed: Option<(u64, std::time::Instant)> = None;
    loop {
        tokio::time::sleep(FOLLOW_EVERY).await;
        let now = async {
            let filters = s.triage.filters().await?;
            let switches = s.triage.rule_switches().await?;
            Ok::<_, vigie_store::StoreError>(triage_version(&filters, &switches))
        }
        .await;
        let now = match now {
            Ok(v) => {
                said_down = false;
                v
            }
            Err(e) => {
                if !said_down {
                    eprintln!("vigie serve: rules: filters and switches unreadable now: {e} (the engine held goes on)");
                    said_down = true;
                }
                continue;
            }
        };
        let held = || {
            s.rules
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .triage_version
        };
        if held() == now
            || failed.is_some_and(|(v, at)| v == now && at.elapsed() < RETRY_FAILED_EVERY)
        {
            continue;
        }
        let _rules = s.rules_change.lock().await;
        // Applied here meanwhile (a change this node took): nothing to do.
        if held() == now {
            failed = None;
            continue;
        }
        match apply(&s).await {
            Ok(()) => {
                failed = None;
                eprintln!(
                    "vigie serve: rules: false-positive filters or rule switches changed on another node: engine rebuilt"
                );
            }
            Err(e) => {
                // Said once for a state (not at each retry of it).
                if failed.is_none_or(|(v, _)| v != now) {
                    eprintln!(
                        "vigie serve: rules: a change of another node not applied: {e} (the engine held goes on; tried again at the next change, or in {} min)",
                        RETRY_FAILED_EVERY.as_secs() / 60
                    );
                }
                failed = Some((now, std::time::Instant::now()));
            }
        }
    }
}

/// The rules of `hunt` with the console's applied false-positive filters
/// and without the rules turned off: compiled as `hunt` compiles them.
/// What `serve` does at start and after each change of the rules.
pub(crate) async fn compile(
    data: &std::path::Path,
    hunt: vigie_hunt::HuntConfig,
    triage: &dyn TriageStore,
) -> Result<(Option<vigie_detect::Engine>, Loaded), String> {
    let filters = triage.filters().await.map_err(|e| e.to_string())?;
    let switches = triage.rule_switches().await.map_err(|e| e.to_string())?;
    let version = triage_version(&filters, &switches);
    let by_tenant = disabled_by_tenant(&switches);
    let data = data.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let mut hunt = crate::triage::with_filters(&data, hunt, &filters)?;
        hunt.load.disabled = disabled_rules(&switches).into_keys().collect();
        let dir = data.join(crate::triage::FILTERS_DIR);
        let (engine, report, sigmahq) =
            vigie_hunt::compile_engine_with_snapshot(&hunt).map_err(|e| e.to_string())?;
        if let Some(f) = report.failures.iter().find(|f| f.path.starts_with(&dir)) {
            return Err(format!("{}: {}", f.path.display(), f.reason));
        }
        Ok((
            engine,
            Loaded {
                report,
                sigmahq,
                triage_version: version,
                by_tenant,
            },
        ))
    })
    .await
    .map_err(|e| e.to_string())?
}

/// Compiles the rules as they stand in the triage store and swaps the new
/// engine in: the next batch of events is judged with it. Callers hold
/// `rules_change`.
pub(crate) async fn apply(s: &Shared) -> Result<(), String> {
    let (engine, loaded) = compile(&s.config.data, s.config.hunt.clone(), &*s.triage).await?;
    let current = s.judging.get();
    s.judging.set(Arc::new(crate::worker::Judging {
        engine: Arc::new(engine),
        indicators: current.indicators.clone(),
        read: current.read.clone(),
    }));
    s.judging.set_off(loaded.tenant_off());
    *s.rules.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(loaded);
    Ok(())
}

/// The key a rule is turned off by: its id, else its name.
fn key(meta: &RuleMeta) -> Option<&str> {
    meta.id.as_deref().or(meta.name.as_deref())
}

fn rule_json(meta: &RuleMeta) -> serde_json::Value {
    json!({
        "id": meta.id,
        "name": meta.name,
        "title": meta.title,
        "kind": meta.kind,
        "level": meta.level,
        "status": meta.status,
        "path": meta.path,
    })
}

/// The rules in force now, the engine's order.
fn in_force(s: &Shared) -> Vec<Arc<RuleMeta>> {
    s.judging
        .get()
        .engine
        .as_ref()
        .as_ref()
        .map(|e| e.rules().to_vec())
        .unwrap_or_default()
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct TenantQuery {
    tenant: Option<String>,
}

/// `GET /api/v1/rules`: every rule in force, those that failed with their
/// reason, those turned off for every tenant (`disabled`) and for the
/// caller's commune (`disabled_for_tenant`, as the engine applies them
/// now; `?tenant=` for another's, a deployment's token or account only),
/// the load counts and the SigmaHQ snapshot.
pub(crate) async fn api(
    State(s): State<Shared>,
    axum::Extension(caller): axum::Extension<Caller>,
    Query(q): Query<TenantQuery>,
) -> Response {
    let tenant = match caller.reads(q.tenant.as_deref()) {
        Ok(t) => t,
        Err(r) => return *r,
    };
    let switches = match s.triage.rule_switches().await {
        Ok(v) => v,
        Err(e) => return crate::unavailable(&format!("rule switches unreadable now: {e}")),
    };
    let loaded = s.rules.read().unwrap_or_else(|e| e.into_inner()).clone();
    let rules: Vec<_> = in_force(&s).iter().map(|m| rule_json(m)).collect();
    let own: Vec<&RuleSwitch> = loaded
        .by_tenant
        .get(&tenant)
        .map(|off| off.values().collect())
        .unwrap_or_default();
    Json(json!({
        "in_force": rules.len(),
        "counts": {
            "files": loaded.report.files,
            "detection": loaded.report.detection,
            "correlation": loaded.report.correlation,
            "filter": loaded.report.filter,
            "deselected": loaded.report.deselected,
            "failed": loaded.report.failures.len(),
        },
        "sigmahq": loaded.sigmahq,
        "failures": loaded.report.failures,
        "warnings": loaded.report.warnings,
        "disabled": disabled_rules(&switches).into_values().collect::<Vec<_>>(),
        "tenant": tenant,
        "disabled_for_tenant": own,
        "rules": rules,
    }))
    .into_response()
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct RulesQuery {
    /// Words that must all appear in the title, id, level, status or file.
    q: Option<String>,
}

/// Rules listed on the page, at most (the rest: refine, or the API).
const SHOWN: usize = 200;

fn matches(meta: &RuleMeta, words: &[String]) -> bool {
    if words.is_empty() {
        return true;
    }
    let hay = format!(
        "{} {} {} {:?} {} {}",
        meta.title,
        meta.id.as_deref().unwrap_or_default(),
        meta.name.as_deref().unwrap_or_default(),
        meta.level,
        meta.status.as_deref().unwrap_or_default(),
        meta.path.display()
    )
    .to_lowercase();
    words.iter().all(|w| hay.contains(w.as_str()))
}

/// The file a rule came from, shortened to what names it.
fn source(path: &std::path::Path) -> String {
    let parts: Vec<_> = path.iter().rev().take(2).collect();
    parts
        .into_iter()
        .rev()
        .map(|p| p.to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

fn csrf_fields(csrf: &str, back: &str) -> String {
    format!(
        "<input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><input type=\"hidden\" name=\"back\" value=\"{}\">",
        escape(back)
    )
}

/// `GET /rules`: the rules in force (searchable), failed, turned off.
pub(crate) async fn page(
    State(s): State<Shared>,
    Reader { ref session, lang }: Reader,
    Query(q): Query<RulesQuery>,
) -> Response {
    let words: Vec<String> =
        q.q.as_deref()
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_lowercase)
            .collect();
    let query = q.q.clone().unwrap_or_default();
    let path = ui::with_lang(
        &if query.is_empty() {
            "/rules".to_string()
        } else {
            format!("/rules?q={}", urlencoding(&query))
        },
        lang,
    );
    let title = tr!(lang, "Règles", "Rules");
    let switches = match s.triage.rule_switches().await {
        Ok(v) => v,
        Err(e) => return crate::unavailable(&format!("rule switches unreadable now: {e}")),
    };
    let off = disabled_rules(&switches);
    let loaded = s.rules.read().unwrap_or_else(|e| e.into_inner()).clone();
    let rules = in_force(&s);
    let admin = session.role == vigie_console::Role::Admin;
    let mut body = String::new();

    // What judges new events now.
    let r = &loaded.report;
    let _ = write!(
        body,
        "<section class=\"card\" id=\"rules-summary\"><h2>{}</h2><p>{}</p>",
        tr!(lang, "En vigueur", "In force"),
        escape(&tr!(
            lang,
            "{} règle(s) jugent chaque nouvel événement ({} de détection, {} de corrélation ; et {} filtre(s)) ; {} écartée(s) par la sélection ou désactivée(s) ; {} n'ont pas pu être chargée(s).",
            "{} rule(s) judge every new event ({} detection, {} correlation; and {} filter(s)); {} left out by the selection or turned off; {} could not be loaded.",
            // The sum of its parts (the list below holds the detection
            // rules only: « 1491 (1491 de détection, 18 de corrélation) »
            // did not add up).
            r.detection + r.correlation,
            r.detection,
            r.correlation,
            r.filter,
            r.deselected,
            r.failures.len()
        ))
    );
    body.push_str(&snapshot_html(loaded.sigmahq.as_ref(), lang));
    if admin {
        let _ = write!(
            body,
            "<form method=\"post\" action=\"/api/v1/rules/update\">{}<div class=\"actions\"><button type=\"submit\" id=\"rules-update\">{}</button></div><p class=\"small\">{}</p></form>",
            csrf_fields(&session.csrf, &path),
            tr!(lang, "Mettre à jour les règles SigmaHQ", "Update the SigmaHQ rules"),
            tr!(lang, "Télécharge la dernière version publiée de SigmaHQ (comme vigie rules update), vérifie qu'elle se charge, puis l'applique aux nouveaux événements.", "Downloads SigmaHQ's latest release (as vigie rules update does), checks that it loads, then applies it to new events."),
        );
    }
    body.push_str("</section>");

    // Turned off for every tenant, with why.
    if !off.is_empty() {
        let heads = [
            tr!(lang, "Règle", "Rule"),
            tr!(lang, "Désactivée par", "Turned off by"),
            tr!(lang, "Quand", "When"),
            tr!(lang, "Raison", "Reason"),
            String::new(),
        ];
        let heads: Vec<&str> = heads.iter().map(String::as_str).collect();
        let mut t = Table::new("rules-off", &heads);
        for sw in off.values() {
            // Every tenant's switch: the deployment's administrators'.
            let action = if admin && session.deployment_wide() {
                format!(
                    "<form method=\"post\" action=\"/api/v1/rules/{}/switch\">{}<input type=\"hidden\" name=\"enabled\" value=\"true\"><input type=\"hidden\" name=\"reason\" value=\"{}\"><button type=\"submit\">{}</button></form>",
                    escape(&urlencoding(&sw.rule)),
                    csrf_fields(&session.csrf, &path),
                    escape(&tr!(lang, "réactivée depuis la console", "turned on again from the console")),
                    tr!(lang, "Réactiver", "Turn on"),
                )
            } else {
                String::new()
            };
            t.row(
                "rule-off",
                &[
                    format!("{} <code>{}</code>", escape(&sw.title), escape(&sw.rule)),
                    escape(&sw.who),
                    ui::time(Some(&sw.time)),
                    escape(&sw.reason),
                    action,
                ],
            );
        }
        let _ = write!(
            body,
            "<section class=\"card\" id=\"rules-off-section\"><h2>{}</h2>{}</section>",
            tr!(lang, "Désactivées", "Turned off"),
            t.html()
        );
    }

    // Turned off for communes' own events: a commune's account sees its
    // own, the deployment's every commune's.
    let by_tenant: Vec<(&String, &RuleSwitch)> = loaded
        .by_tenant
        .iter()
        .filter(|(t, _)| session.reads_commune(t))
        .flat_map(|(t, off)| off.values().map(move |sw| (t, sw)))
        .collect();
    if !by_tenant.is_empty() {
        let heads = [
            tr!(lang, "Commune", "Tenant"),
            tr!(lang, "Règle", "Rule"),
            tr!(lang, "Désactivée par", "Turned off by"),
            tr!(lang, "Quand", "When"),
            tr!(lang, "Raison", "Reason"),
            String::new(),
        ];
        let heads: Vec<&str> = heads.iter().map(String::as_str).collect();
        let mut t = Table::new("rules-off-tenant", &heads);
        for (tenant, sw) in by_tenant {
            let action = if admin {
                format!(
                    "<form method=\"post\" action=\"/api/v1/rules/{}/switch\">{}<input type=\"hidden\" name=\"enabled\" value=\"true\"><input type=\"hidden\" name=\"tenant\" value=\"{}\"><input type=\"hidden\" name=\"reason\" value=\"{}\"><button type=\"submit\">{}</button></form>",
                    escape(&urlencoding(&sw.rule)),
                    csrf_fields(&session.csrf, &path),
                    escape(tenant),
                    escape(&tr!(lang, "réactivée depuis la console", "turned on again from the console")),
                    tr!(lang, "Réactiver", "Turn on"),
                )
            } else {
                String::new()
            };
            t.row(
                "rule-off-tenant",
                &[
                    escape(tenant),
                    format!("{} <code>{}</code>", escape(&sw.title), escape(&sw.rule)),
                    escape(&sw.who),
                    ui::time(Some(&sw.time)),
                    escape(&sw.reason),
                    action,
                ],
            );
        }
        let _ = write!(
            body,
            "<section class=\"card\" id=\"rules-off-tenant-section\"><h2>{}</h2><p class=\"intro\">{}</p>{}</section>",
            tr!(lang, "Désactivées pour une commune", "Turned off for one tenant"),
            tr!(lang, "Ces règles ne donnent plus de détection sur les événements de cette commune seulement ; les autres communes restent surveillées par elles.", "These rules no longer raise detections on this tenant's events only; the other tenants are still watched by them."),
            t.html()
        );
    }

    // Failed to load, with why.
    if !r.failures.is_empty() {
        let heads = [
            tr!(lang, "Fichier", "File"),
            tr!(lang, "Règle", "Rule"),
            tr!(lang, "Raison", "Reason"),
        ];
        let heads: Vec<&str> = heads.iter().map(String::as_str).collect();
        let mut t = Table::new("rules-failed", &heads);
        for f in &r.failures {
            t.row(
                "rule-failed",
                &[
                    format!(
                        "<code>{}</code> #{}",
                        escape(&source(&f.path)),
                        f.document + 1
                    ),
                    escape(f.title.as_deref().or(f.id.as_deref()).unwrap_or("—")),
                    escape(&f.reason),
                ],
            );
        }
        let _ = write!(
            body,
            "<section class=\"card\" id=\"rules-failed-section\"><h2>{}</h2>{}</section>",
            tr!(lang, "Non chargées", "Not loaded"),
            t.html()
        );
    }

    // In force, searchable.
    let found: Vec<&Arc<RuleMeta>> = rules.iter().filter(|m| matches(m, &words)).collect();
    let _ = write!(
        body,
        "<section class=\"card\" id=\"rules-in-force\"><h2>{}</h2><form method=\"get\" action=\"/rules\" role=\"search\"><label for=\"rules-q\">{}</label><input id=\"rules-q\" name=\"q\" value=\"{}\">{}<div class=\"actions\"><button type=\"submit\">{}</button></div></form><p class=\"intro\" id=\"rules-shown\">{}</p>",
        tr!(lang, "Règles en vigueur", "Rules in force"),
        tr!(lang, "Chercher (titre, id, niveau, statut, fichier)", "Search (title, id, level, status, file)"),
        escape(&query),
        if lang == Lang::En { "<input type=\"hidden\" name=\"lang\" value=\"en\">" } else { "" },
        tr!(lang, "Chercher", "Search"),
        escape(&if found.len() > SHOWN {
            tr!(lang, "{} règles trouvées ; les {} premières sont listées (précisez la recherche, ou /api/v1/rules).", "{} rules found; the first {} are listed (refine the search, or /api/v1/rules).", found.len(), SHOWN)
        } else {
            tr!(lang, "{} règle(s) trouvée(s).", "{} rule(s) found.", found.len())
        })
    );
    let mut heads = vec![
        tr!(lang, "Règle", "Rule"),
        tr!(lang, "Niveau", "Level"),
        tr!(lang, "Statut", "Status"),
        tr!(lang, "Fichier", "File"),
    ];
    if admin {
        heads.push(tr!(lang, "Désactiver (raison)", "Turn off (reason)"));
    }
    let heads: Vec<&str> = heads.iter().map(String::as_str).collect();
    let mut t = Table::new("rules", &heads);
    for m in found.iter().take(SHOWN) {
        let level = m.level.map(|l| format!("{l:?}").to_lowercase());
        let mut cells = vec![
            format!(
                "{} <code>{}</code>",
                escape(&m.title),
                escape(key(m).unwrap_or("—"))
            ),
            ui::level(lang, level.as_deref()),
            escape(m.status.as_deref().unwrap_or("—")),
            format!("<code>{}</code>", escape(&source(&m.path))),
        ];
        if admin {
            cells.push(match key(m) {
                Some(k) => format!(
                    "<form method=\"post\" action=\"/api/v1/rules/{}/switch\">{}<input type=\"hidden\" name=\"enabled\" value=\"false\"><label class=\"visually-hidden\" for=\"why-{id}\">{why}</label><input id=\"why-{id}\" name=\"reason\" required maxlength=\"500\" placeholder=\"{why}\">{for_one}<button type=\"submit\">{}</button></form>",
                    escape(&urlencoding(k)),
                    csrf_fields(&session.csrf, &path),
                    tr!(lang, "Désactiver", "Turn off"),
                    id = escape(k),
                    why = tr!(lang, "raison", "reason"),
                    for_one = commune_field(lang, k, session.deployment_wide()),
                ),
                None => tr!(lang, "sans id : ne peut être désactivée", "no id: cannot be turned off"),
            });
        }
        t.row("rule", &cells);
    }
    body.push_str(&t.html());
    body.push_str("</section>");
    ui::frame(session, lang, &path, &title, &body, None)
}

/// The CSIRT's own administrators (no commune) turn a rule off for every
/// commune, or for the one they name here (empty: every commune); a
/// commune's administrator switches its own only, so has no field.
fn commune_field(lang: Lang, key: &str, deployment: bool) -> String {
    if !deployment {
        return String::new();
    }
    format!(
        "<label class=\"visually-hidden\" for=\"for-{id}\">{label}</label><input id=\"for-{id}\" name=\"tenant\" maxlength=\"64\" placeholder=\"{all}\" title=\"{label}\">",
        id = escape(key),
        label = tr!(
            lang,
            "commune (vide : toutes les communes)",
            "tenant (empty: every tenant)"
        ),
        all = tr!(lang, "toutes les communes", "every tenant"),
    )
}

/// Where the rules come from, in words.
fn snapshot_html(s: Option<&SnapshotStatus>, lang: Lang) -> String {
    let Some(s) = s else {
        return format!(
            "<p id=\"sigmahq\">{}</p>",
            tr!(
                lang,
                "Aucune règle SigmaHQ : seulement les règles données.",
                "No SigmaHQ rules: only the rules given."
            )
        );
    };
    let what = [
        s.release.as_deref().map(|r| format!("release {r}")),
        s.commit.as_deref().map(|c| format!("commit {c}")),
        s.commit_date.as_deref().map(|d| format!("({d})")),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(" ");
    let mut out = format!(
        "<p id=\"sigmahq\">{}</p>",
        escape(&tr!(
            lang,
            "SigmaHQ : {} {} — {} fichier(s) de règles, la plus récente du {}.",
            "SigmaHQ: {} {} — {} rule file(s), the newest of {}.",
            serde_json::to_value(s.origin)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
            what,
            s.rules,
            s.newest_rule.as_deref().unwrap_or("—")
        ))
    );
    for n in &s.notes {
        let _ = write!(out, "<p class=\"note\">{}</p>", escape(n));
    }
    out
}

/// A rule id or name as one path segment (ids are UUIDs; names are
/// words, but nothing is assumed).
fn urlencoding(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[derive(Debug, Deserialize)]
pub(crate) struct Switch {
    /// `true`/`false` (JSON), or `"true"`/`"false"` (a form).
    #[serde(deserialize_with = "bool_or_text")]
    enabled: bool,
    reason: String,
    /// Whose events: a commune's name, or `*` for every tenant. Not
    /// given: every tenant for the deployment's administrator (as before
    /// communes had their own), the caller's own commune for a commune's.
    #[serde(default)]
    tenant: Option<String>,
    #[serde(default)]
    back: Option<String>,
}

fn bool_or_text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum B {
        Bool(bool),
        Text(String),
    }
    match B::deserialize(d)? {
        B::Bool(b) => Ok(b),
        B::Text(t) if t == "true" => Ok(true),
        B::Text(t) if t == "false" => Ok(false),
        B::Text(t) => Err(serde::de::Error::custom(format!(
            "enabled is true or false, not {t:?}"
        ))),
    }
}

/// The tenant a switch is for (`None`: every tenant): a commune's token
/// or account switches its own commune's only.
fn switched_for(caller: &Caller, asked: Option<&str>) -> Result<Option<String>, Box<Response>> {
    let asked = asked.map(str::trim).filter(|t| !t.is_empty());
    if !caller.assigned.is_empty() {
        // A CSIRT's account assigned communes reads them; switching their
        // rules is their own administrators' or the deployment's.
        return Err(Box::new(error(
            StatusCode::FORBIDDEN,
            "an account assigned several communes reads them and switches no rule",
        )));
    }
    match (caller.admin, asked) {
        (true, None | Some("*")) => Ok(None),
        (true, Some(t)) => Ok(Some(t.to_string())),
        (false, None) => Ok(Some(caller.tenant.clone())),
        (false, Some(t)) if t == caller.tenant => Ok(Some(t.to_string())),
        (false, Some(_)) => Err(Box::new(error(
            StatusCode::FORBIDDEN,
            "a commune's token or account switches the rules of its own commune only",
        ))),
    }
}

/// `POST /api/v1/rules/{rule}/switch` (`{"enabled": false, "reason": …,
/// "tenant": …}`): turns a rule off, or on again, for new events of every
/// tenant or of one commune ([`switched_for`]); audited.
pub(crate) async fn switch(
    State(s): State<Shared>,
    axum::Extension(p): axum::Extension<Principal>,
    axum::Extension(caller): axum::Extension<Caller>,
    ci: Option<axum::Extension<axum::extract::ConnectInfo<SocketAddr>>>,
    Path(rule): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let req: Switch = match parse(&headers, &body) {
        Ok(r) => r,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                &format!("a switch is {{\"enabled\": false, \"reason\": \"…\"}}: {e}"),
            )
        }
    };
    let reason = req.reason.trim();
    if reason.is_empty() || reason.chars().count() > 500 {
        return error(
            StatusCode::BAD_REQUEST,
            "a reason is required (at most 500 characters): it is what the next person reads",
        );
    }
    let tenant = match switched_for(&caller, req.tenant.as_deref()) {
        Ok(t) => t,
        Err(r) => return *r,
    };
    if let Some(t) = &tenant {
        if !vigie_console::users::valid_name(t) {
            return error(
                StatusCode::BAD_REQUEST,
                &format!("tenant {t:?}: not a tenant's name"),
            );
        }
    }
    let (who, from) = who_and_from(&p, ci);
    let _rules = s.rules_change.lock().await;
    let switches = match s.triage.rule_switches().await {
        Ok(v) => v,
        Err(e) => return crate::unavailable(&format!("rule switches unreadable now: {e}")),
    };
    let every = disabled_rules(&switches);
    let off = match &tenant {
        None => every.clone(),
        Some(t) => disabled_by_tenant(&switches).remove(t).unwrap_or_default(),
    };
    // A commune cannot turn on for itself what the deployment turned off
    // for everyone: "already on" would be false, and nothing it sends
    // would bring the rule back. Nor can it by lifting its own switch of
    // the rule: the answer would say `changed: true` while the rule
    // stays off for it.
    if let (true, Some(_), Some(sw)) = (req.enabled, &tenant, every.get(&rule)) {
        return error(
            StatusCode::CONFLICT,
            &format!(
                "rule {rule} is turned off for every commune by the deployment's administrators ({}, {}: {}): a commune cannot turn it on for itself; ask them",
                sw.who, sw.time, sw.reason
            ),
        );
    }
    let title = match (req.enabled, off.get(&rule)) {
        (true, Some(sw)) => sw.title.clone(),
        (false, Some(_)) | (true, None) => {
            let state = if req.enabled { "on" } else { "off" };
            // Already so: nothing to change, said as it is.
            if in_force(&s).iter().any(|m| key(m) == Some(rule.as_str()))
                || off.contains_key(&rule)
                || every.contains_key(&rule)
            {
                return answer(
                    &headers,
                    req.back.as_deref(),
                    json!({ "rule": rule, "enabled": req.enabled, "changed": false, "note": format!("already {state}"), "tenant": tenant }),
                );
            }
            return error(
                StatusCode::NOT_FOUND,
                &format!("no rule {rule} in force or turned off"),
            );
        }
        (false, None) => match in_force(&s).iter().find(|m| key(m) == Some(rule.as_str())) {
            Some(m) => m.title.clone(),
            // Off for every tenant already: a commune may still say it
            // wants it off (kept if the deployment turns it on again).
            None => match (&tenant, every.get(&rule)) {
                (Some(_), Some(sw)) => sw.title.clone(),
                _ => return error(StatusCode::NOT_FOUND, &format!("no rule {rule} in force")),
            },
        },
    };
    // The last rule in force is not turned off for every tenant: the
    // server would judge events with no rule at all — it would look
    // watched and detect nothing. Said plainly, nothing kept.
    if tenant.is_none() && !req.enabled {
        let force = in_force(&s);
        if force.len() == 1 && key(&force[0]) == Some(rule.as_str()) {
            return error(
                StatusCode::CONFLICT,
                &format!(
                    "rule {rule} is the only rule in force: turned off, nothing would detect anything on new events; load other rules (--rules, the built-in set) or turn another on first"
                ),
            );
        }
    }
    let sw = RuleSwitch {
        rule: rule.clone(),
        title,
        enabled: req.enabled,
        reason: reason.to_string(),
        who: who.clone(),
        time: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        tenant: tenant.clone(),
    };
    if let Err(e) = s.triage.switch_rule(sw.clone()).await {
        return crate::unavailable(&format!("not kept, send again: {e}"));
    }
    s.console.audit(
        &who,
        &from,
        if req.enabled {
            Action::RuleEnable
        } else {
            Action::RuleDisable
        },
        &match &tenant {
            Some(t) => format!("{t}/{rule}: {reason}"),
            None => format!("{rule}: {reason}"),
        },
        Outcome::Success,
    );
    if let Err(e) = apply(&s).await {
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("kept but not applied: {e}"),
        );
    }
    answer(
        &headers,
        req.back.as_deref(),
        json!({ "rule": rule, "enabled": req.enabled, "changed": true, "switch": sw }),
    )
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct Back {
    back: Option<String>,
}

/// `POST /api/v1/rules/update`: SigmaHQ's latest release into the
/// installed rules directory (as `vigie rules update`), then the rules
/// compiled again and applied; audited with what it did.
pub(crate) async fn update(
    State(s): State<Shared>,
    axum::Extension(p): axum::Extension<Principal>,
    ci: Option<axum::Extension<axum::extract::ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let back: Back = parse(&headers, &body).unwrap_or_default();
    let (who, from) = who_and_from(&p, ci);
    let Some(dir) = vigie_rules::sigmahq::installed_dir() else {
        s.console.audit(
            &who,
            &from,
            Action::RulesUpdate,
            "no installed rules directory",
            Outcome::Failure,
        );
        return error(
            StatusCode::CONFLICT,
            "no installed SigmaHQ directory to update: run `vigie rules update DEST` once on the server (see docs/rules.md)",
        );
    };
    let _rules = s.rules_change.lock().await;
    let target = dir.clone();
    let done = tokio::task::spawn_blocking(move || {
        vigie_rules::update(&target, &vigie_rules::UpdateOptions::default())
    })
    .await;
    let report = match done {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => {
            s.console.audit(
                &who,
                &from,
                Action::RulesUpdate,
                &e.to_string(),
                Outcome::Failure,
            );
            return error(
                StatusCode::BAD_GATEWAY,
                &format!("not updated (the rules in force stay): {e}"),
            );
        }
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    };
    let said = format!("{report:?}");
    s.console.audit(
        &who,
        &from,
        Action::RulesUpdate,
        &format!("{}: {said}", dir.display()),
        Outcome::Success,
    );
    if let Err(e) = apply(&s).await {
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("updated but not applied: {e}"),
        );
    }
    answer(
        &headers,
        back.back.as_deref(),
        json!({ "updated": dir, "report": said }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(title: &str, id: Option<&str>) -> RuleMeta {
        RuleMeta {
            id: id.map(str::to_string),
            name: None,
            title: title.into(),
            kind: vigie_detect::RuleKind::Detection,
            level: Some(vigie_detect::Level::High),
            status: Some("test".into()),
            description: None,
            author: None,
            tags: Vec::new(),
            references: Vec::new(),
            falsepositives: Vec::new(),
            logsource: Default::default(),
            path: "/rules/windows/process_creation/proc_creation_win_whoami.yml".into(),
        }
    }

    #[test]
    fn every_word_must_appear_somewhere() {
        let m = meta("Whoami Execution", Some("e28a5a99"));
        let w = |s: &str| {
            s.split_whitespace()
                .map(str::to_lowercase)
                .collect::<Vec<_>>()
        };
        assert!(matches(&m, &w("")));
        assert!(matches(&m, &w("WHOAMI high")));
        assert!(matches(&m, &w("process_creation e28a")));
        assert!(!matches(&m, &w("whoami mimikatz")));
    }

    #[test]
    fn a_source_is_named_by_its_folder_and_file() {
        assert_eq!(
            source(std::path::Path::new("/a/b/windows/x.yml")),
            "windows/x.yml"
        );
    }
}
