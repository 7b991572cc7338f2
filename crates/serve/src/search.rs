//! Event search over the stored events: `vigie search`'s query language
//! (`field:value`, wildcards, Sigma modifiers, words, `-` for not), a
//! time range and a host, run over the event log as the detection worker
//! reads it (the same reading, the same engine), with saved searches.
//!
//! Bounded, as a live server must be: at most [`MAX_LIMIT`] events
//! given, at most [`BUDGET`] spent reading, one search at a time; when a
//! bound stops it, the answer says which and how far it read, never a
//! silent partial answer.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::http::Query;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use vigie_console::audit::{Action, Outcome as AuditOutcome};
use vigie_console::pages::{self as ui, Table};
use vigie_console::Principal;
use vigie_lang::{tr, Lang};
use vigie_report::html::escape;
use vigie_store::triage::{SavedSearch, SearchRemoval};
use vigie_store::Delivery;

use crate::worker::{judge, Judging, Progress, Seen};
use crate::{error, ReadTenant, Shared};

/// Events given by default, and at most.
pub const DEFAULT_LIMIT: usize = 100;
pub const MAX_LIMIT: usize = 1000;
/// Reading time of one search, at most.
pub const BUDGET: Duration = Duration::from_secs(10);
/// A matching event's text kept in the answer, at most (the whole event
/// is at its position: `/api/v1/…` and the detection pages read it).
const EVENT_BYTES: usize = 16 << 10;

/// What to search (the query string of `/search` and `/api/v1/search`).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct Params {
    #[serde(default)]
    pub q: Option<String>,
    /// A time bound as `vigie search --from` takes it, read in
    /// Europe/Paris when it has no zone.
    #[serde(default)]
    pub from: Option<String>,
    #[serde(default)]
    pub to: Option<String>,
    #[serde(default)]
    pub host: Option<String>,
    #[serde(default)]
    pub limit: Option<usize>,
    #[serde(default)]
    pub lang: Option<String>,
}

impl Params {
    fn asked(&self) -> bool {
        [&self.q, &self.from, &self.to, &self.host]
            .iter()
            .any(|v| v.as_deref().is_some_and(|v| !v.trim().is_empty()))
    }
}

fn some(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

/// One event found.
#[derive(Debug, Clone, Serialize)]
pub struct Hit {
    pub position: u64,
    pub time: Option<String>,
    pub computer: Option<String>,
    pub channel: Option<String>,
    pub event_id: Option<u32>,
    pub record_id: Option<u64>,
    pub source: String,
    /// The event as it arrived (JSON), or its text cut at 16 KiB.
    pub event: Value,
}

/// What a search read and found.
#[derive(Debug, Clone, Serialize)]
pub struct Found {
    pub hits: Vec<Hit>,
    /// The tenant's events read (positions `[0, read_upto)` of the log,
    /// less those skipped).
    pub events_scanned: u64,
    /// Log positions not read: in blocks whose events, by the index the
    /// worker keeps, are outside the period or on other hosts.
    pub positions_skipped: u64,
    pub read_upto: u64,
    pub events_in_log: u64,
    /// `limit` or `time_budget` when a bound stopped it; `null` when every
    /// stored event was read.
    pub stopped: Option<&'static str>,
    pub seconds: f64,
}

/// Why a search gave no answer: the request (its query or its period),
/// answered 400, or the event log (NATS away, a segment unreadable),
/// answered 503 with `Retry-After` — the request was right, send it again.
#[derive(Debug)]
pub(crate) enum Failed {
    Request(String),
    Store(String),
}

impl std::fmt::Display for Failed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failed::Request(e) => f.write_str(e),
            Failed::Store(e) => write!(f, "the event log cannot be read now: {e}"),
        }
    }
}

/// Runs a search over the tenant's stored events.
pub(crate) async fn run(s: &Shared, tenant: &str, p: &Params) -> Result<Found, Failed> {
    let query = some(&p.q)
        .map(vigie_hunt::search::Query::parse)
        .transpose()
        .map_err(|e| Failed::Request(e.to_string()))?;
    let engine = query
        .as_ref()
        .map(|q| q.compile())
        .transpose()
        .map_err(|e| Failed::Request(e.to_string()))?;
    let inverted = query.as_ref().is_some_and(|q| q.inverted());
    let zone = ui::zone();
    let bound = |v: &Option<String>, end: bool| {
        some(v)
            .map(|t| vigie_hunt::search::parse_time_bound(t, zone, end))
            .transpose()
    };
    let config = vigie_hunt::search::SearchConfig {
        from: bound(&p.from, false).map_err(Failed::Request)?,
        to: bound(&p.to, true).map_err(Failed::Request)?,
        hosts: some(&p.host)
            .map(|h| vec![h.to_string()])
            .unwrap_or_default(),
        ..Default::default()
    };
    let limit = p.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT);
    let has_engine = engine.is_some();
    let judging = Arc::new(Judging {
        engine: Arc::new(engine),
        indicators: None,
        read: crate::start::with_memory(&s.config.hunt.read),
    });
    let config = Arc::new(config);
    let clock = Instant::now();
    let end = s
        .log
        .records()
        .await
        .map_err(|e| Failed::Store(e.to_string()))?;
    // A one-off reader of this process, released after (as a retro-hunt's),
    // also when this future is dropped (the client went away).
    let reader = crate::retrohunt::reader::Reader::new(
        s.log.clone(),
        &format!("{}search-", crate::retrohunt::CONSUMER_PREFIX),
    );
    let consumer = reader.name().to_string();
    let seen = Arc::new(Seen::default());
    let mut hits: Vec<Hit> = Vec::new();
    let (mut read_upto, mut scanned, mut stopped) = (0u64, 0u64, None);
    // Only the blocks the period and the host can be in (all of them
    // without an index, or when the log cannot be read from a position).
    let mut ranges = match &s.index {
        Some(ix) => ix.to_read(
            &crate::index::Wanted {
                tenant,
                from: config.from,
                to: config.to,
                hosts: &config.hosts,
            },
            end,
        ),
        None => std::iter::once(0..end).collect(),
    }
    .into_iter();
    let mut range = ranges.next();
    let mut skipped = 0u64;
    let outcome: Result<(), String> = async {
        while let Some(r) = range.clone() {
            if read_upto >= r.end {
                range = ranges.next();
                continue;
            }
            if read_upto < r.start {
                if s.log
                    .seek(&consumer, vigie_store::Position(r.start))
                    .await
                    .map_err(|e| e.to_string())?
                {
                    skipped += r.start - read_upto;
                    read_upto = r.start;
                } else {
                    // Read on from here: nothing is skipped.
                    range = Some(read_upto..end);
                    ranges = Vec::new().into_iter();
                    continue;
                }
            }
            if clock.elapsed() >= BUDGET {
                stopped = Some("time_budget");
                break;
            }
            let batch = s
                .log
                .consume(&consumer, 4096, Duration::ZERO)
                .await
                .map_err(|e| e.to_string())?;
            if batch.is_empty() {
                break;
            }
            read_upto = batch.last().map_or(read_upto, |d| d.position.0 + 1);
            let mine: Vec<Delivery> = batch
                .into_iter()
                .filter(|d| d.tenant == tenant && d.position.0 < end)
                .collect();
            scanned += mine.len() as u64;
            let (judging, seen, config) = (judging.clone(), seen.clone(), config.clone());
            let mut got = tokio::task::spawn_blocking(move || {
                let found = Mutex::new(Vec::new());
                judge(&judging, &mine, &seen, &Progress::default(), &|d, e, m| {
                    let wanted = vigie_hunt::search::passes(&config, e)
                        && (!has_engine || m.is_empty() == inverted);
                    if wanted {
                        found
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .push(hit(d, e));
                    }
                });
                found.into_inner().unwrap_or_else(|p| p.into_inner())
            })
            .await
            .map_err(|e| e.to_string())?;
            got.sort_by_key(|h| h.position);
            hits.extend(got);
            if hits.len() >= limit {
                hits.truncate(limit);
                stopped = Some("limit");
                break;
            }
        }
        Ok(())
    }
    .await;
    if stopped.is_none() && range.is_none() && read_upto < end {
        // The last blocks could not hold a hit: skipped too.
        skipped += end - read_upto;
        read_upto = end;
    }
    reader.release().await;
    outcome.map_err(Failed::Store)?;
    Ok(Found {
        hits,
        events_scanned: scanned,
        positions_skipped: skipped,
        read_upto,
        events_in_log: end,
        stopped,
        seconds: clock.elapsed().as_secs_f64(),
    })
}

fn hit(d: &Delivery, e: &vigie_event::Event) -> Hit {
    // JSON as its value, else its text cut; bytes outside UTF-8 as
    // Windows-1252, as the event was read.
    let json = (d.event.len() <= EVENT_BYTES)
        .then(|| vigie_source::value_as_read(&d.event))
        .filter(|v| !v.is_string());
    let event = match json {
        Some(v) => v,
        None => {
            let text = vigie_source::text_as_read(&d.event);
            let cut: String = text.chars().take(EVENT_BYTES).collect();
            Value::String(if cut.len() < text.len() {
                format!("{cut}… [+{} bytes]", text.len() - cut.len())
            } else {
                cut
            })
        }
    };
    Hit {
        position: d.position.0,
        time: e
            .timestamp
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)),
        computer: e.computer.as_deref().map(str::to_string),
        channel: e.channel.as_deref().map(str::to_string),
        event_id: e.event_id,
        record_id: e.record_id,
        source: d.source.clone(),
        event,
    }
}

/// One search at a time (each reads the log): `Err` is the 429.
async fn one_at_a_time(s: &Shared) -> Result<tokio::sync::MutexGuard<'_, ()>, Box<Response>> {
    s.searching.try_lock().map_err(|_| {
        let mut r = error(
            StatusCode::TOO_MANY_REQUESTS,
            "a search is running: send again in a few seconds",
        );
        r.headers_mut()
            .insert("Retry-After", "5".parse().expect("header"));
        Box::new(r)
    })
}

/// `GET /api/v1/search?q=&from=&to=&host=&limit=`.
pub(crate) async fn api(
    State(s): State<Shared>,
    ReadTenant(tenant): ReadTenant,
    Query(p): Query<Params>,
) -> Response {
    let _one = match one_at_a_time(&s).await {
        Ok(g) => g,
        Err(r) => return *r,
    };
    match run(&s, &tenant, &p).await {
        Ok(found) => Json(found).into_response(),
        Err(e @ Failed::Request(_)) => error(StatusCode::BAD_REQUEST, &e.to_string()),
        Err(e @ Failed::Store(_)) => crate::unavailable(&e.to_string()),
    }
}

/// `GET /search`: the form, the results, the saved searches.
pub(crate) async fn page(
    State(s): State<Shared>,
    axum::Extension(principal): axum::Extension<Principal>,
    ReadTenant(tenant): ReadTenant,
    Query(p): Query<Params>,
    headers: HeaderMap,
    axum::extract::RawQuery(raw): axum::extract::RawQuery,
) -> Response {
    let Principal::Person { session, .. } = &principal else {
        return error(
            StatusCode::BAD_REQUEST,
            "the console's pages are for people signed in; a token reads /api/v1/search",
        );
    };
    let lang = vigie_console::web::lang_of(p.lang.as_deref(), &headers);
    let path = match raw.as_deref() {
        Some(q) if !q.is_empty() => format!("/search?{q}"),
        _ => ui::with_lang("/search", lang),
    };
    let title = tr!(lang, "Recherche d'événements", "Event search");
    let mut body = form(lang, &p);
    if p.asked() {
        let result = match one_at_a_time(&s).await {
            Ok(_one) => run(&s, &tenant, &p).await.map_err(|e| match e {
                Failed::Request(e) => e,
                Failed::Store(e) => format!(
                    "{} {e}",
                    tr!(
                        lang,
                        "Le journal des événements ne peut pas être lu maintenant, réessayez :",
                        "The event log cannot be read now, try again:"
                    )
                ),
            }),
            Err(_) => Err(tr!(
                lang,
                "Une recherche est déjà en cours : réessayez dans quelques secondes.",
                "A search is already running: try again in a few seconds."
            )),
        };
        match result {
            Ok(found) => body.push_str(&results(lang, &found)),
            Err(e) => body.push_str(&format!(
                "<p class=\"note red\" role=\"alert\" id=\"search-error\">{}</p>",
                escape(&e)
            )),
        }
        if crate::triage::may_triage(session.role) {
            body.push_str(&save_form(lang, &session.csrf, &tenant, &p, &path));
        }
    }
    let saved = s.triage.searches(&tenant).await.unwrap_or_default();
    body.push_str(&saved_list(
        lang,
        &tenant,
        &saved,
        crate::triage::may_triage(session.role).then_some(session.csrf.as_str()),
        &path,
    ));
    ui::frame(session, lang, &path, &title, &body, None)
}

fn form(lang: Lang, p: &Params) -> String {
    let v = |x: &Option<String>| escape(x.as_deref().unwrap_or(""));
    format!(
        "<section class=\"card\"><form method=\"get\" action=\"/search\" id=\"search\" role=\"search\">
<input type=\"hidden\" name=\"lang\" value=\"{code}\">
<label for=\"q\">{q_l}</label><input type=\"text\" id=\"q\" name=\"q\" value=\"{q}\" aria-describedby=\"q-hint\" spellcheck=\"false\">
<p class=\"small\" id=\"q-hint\">{hint}</p>
<label for=\"from\">{from_l}</label><input type=\"text\" id=\"from\" name=\"from\" value=\"{from}\" placeholder=\"2026-01-10 02:00\">
<label for=\"to\">{to_l}</label><input type=\"text\" id=\"to\" name=\"to\" value=\"{to}\" placeholder=\"2026-01-12\">
<label for=\"host\">{host_l}</label><input type=\"text\" id=\"host\" name=\"host\" value=\"{host}\" placeholder=\"DC01\">
<div class=\"actions\"><button type=\"submit\" id=\"search-submit\">{go}</button></div>
</form></section>",
        code = lang.code(),
        q_l = tr!(lang, "Requête", "Query"),
        q = v(&p.q),
        hint = tr!(
            lang,
            "Comme <code>vigie search</code> : <code>EventID:4625 TargetUserName:adm*</code>, <code>CommandLine|contains:vssadmin</code>, des mots, <code>-terme</code> pour exclure.",
            "As <code>vigie search</code>: <code>EventID:4625 TargetUserName:adm*</code>, <code>CommandLine|contains:vssadmin</code>, words, <code>-term</code> to leave out."
        ),
        from_l = tr!(lang, "Depuis (heure de Paris)", "From (Paris time)"),
        from = v(&p.from),
        to_l = tr!(lang, "Jusqu'à", "To"),
        to = v(&p.to),
        host_l = tr!(lang, "Machine", "Host"),
        host = v(&p.host),
        go = tr!(lang, "Rechercher", "Search"),
    )
}

fn results(lang: Lang, f: &Found) -> String {
    let heads = [
        tr!(lang, "Heure", "Time"),
        tr!(lang, "Machine", "Host"),
        tr!(lang, "Journal", "Channel"),
        tr!(lang, "Événement", "Event"),
        tr!(lang, "Position", "Position"),
    ];
    let heads: Vec<&str> = heads.iter().map(String::as_str).collect();
    let mut t = Table::new("results", &heads);
    for h in &f.hits {
        let text = match &h.event {
            Value::String(s) => s.clone(),
            v => serde_json::to_string_pretty(v).unwrap_or_default(),
        };
        t.row(
            "hit",
            &[
                ui::time(h.time.as_deref()),
                escape(h.computer.as_deref().unwrap_or("—")),
                escape(h.channel.as_deref().unwrap_or("—")),
                format!(
                    "<details><summary>{} · {}</summary><pre class=\"raw\">{}</pre></details>",
                    h.event_id.map_or("—".into(), |v| v.to_string()),
                    h.record_id.map_or("—".into(), |v| v.to_string()),
                    escape(&text)
                ),
                h.position.to_string(),
            ],
        );
    }
    let said = match f.stopped {
        Some("limit") => tr!(
            lang,
            "{} événement(s) affiché(s) : la limite est atteinte, les positions suivantes n'ont pas été lues (précisez la recherche).",
            "{} event(s) shown: the limit was reached, later positions were not read (narrow the search).",
            f.hits.len()
        ),
        Some(_) => tr!(
            lang,
            "{} événement(s) trouvé(s) en {:.1} s : le temps de recherche est épuisé après la position {} sur {} (précisez la période ou la machine).",
            "{} event(s) found in {:.1} s: the search time ran out after position {} of {} (narrow the period or the host).",
            f.hits.len(),
            f.seconds,
            f.read_upto,
            f.events_in_log
        ),
        None => tr!(
            lang,
            "{} événement(s) trouvé(s) parmi les {} événements conservés, en {:.1} s.",
            "{} event(s) found among the {} events stored, in {:.1} s.",
            f.hits.len(),
            f.events_scanned,
            f.seconds
        ),
    };
    format!(
        "<section class=\"card\" id=\"search-results\" data-stopped=\"{}\"><h2>{}</h2><p class=\"intro\" role=\"status\">{}</p>{}</section>",
        f.stopped.unwrap_or(""),
        tr!(lang, "Résultats", "Results"),
        escape(&said),
        if f.hits.is_empty() { String::new() } else { t.html() }
    )
}

/// `?tenant=…` of a form's action: the commune the page was drawn for,
/// never the one chosen since in another tab.
fn for_tenant(tenant: &str) -> String {
    let t: String = form_urlencoded::byte_serialize(tenant.as_bytes()).collect();
    format!("?tenant={t}")
}

fn save_form(lang: Lang, csrf: &str, tenant: &str, p: &Params, back: &str) -> String {
    let hidden = |k: &str, v: &Option<String>| {
        format!(
            "<input type=\"hidden\" name=\"{k}\" value=\"{}\">",
            escape(v.as_deref().unwrap_or(""))
        )
    };
    format!(
        "<section class=\"card\"><form method=\"post\" action=\"/api/v1/searches{}\" id=\"save-search\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><input type=\"hidden\" name=\"back\" value=\"{}\">{}{}{}{}<label for=\"name\">{}</label><input type=\"text\" id=\"name\" name=\"name\" required><div class=\"actions\"><button type=\"submit\">{}</button></div></form></section>",
        escape(&for_tenant(tenant)),
        escape(back),
        hidden("query", &p.q),
        hidden("from", &p.from),
        hidden("to", &p.to),
        hidden("host", &p.host),
        tr!(lang, "Enregistrer cette recherche sous le nom", "Save this search as"),
        tr!(lang, "Enregistrer", "Save"),
    )
}

/// The link that runs a saved search again.
fn link(s: &SavedSearch, lang: Lang) -> String {
    let mut q = form_urlencoded_pairs(&[
        ("q", Some(&s.query)),
        ("from", s.from.as_ref()),
        ("to", s.to.as_ref()),
        ("host", s.host.as_ref()),
    ]);
    if lang == Lang::En {
        q.push_str("&lang=en");
    }
    format!("/search?{q}")
}

fn form_urlencoded_pairs(pairs: &[(&str, Option<&String>)]) -> String {
    pairs
        .iter()
        .filter_map(|(k, v)| v.map(|v| format!("{k}={}", percent(v))))
        .collect::<Vec<_>>()
        .join("&")
}

fn percent(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn saved_list(
    lang: Lang,
    tenant: &str,
    saved: &[SavedSearch],
    csrf: Option<&str>,
    back: &str,
) -> String {
    let mut out = format!(
        "<section class=\"card\" id=\"saved-searches\"><h2>{}</h2>",
        tr!(lang, "Recherches enregistrées", "Saved searches")
    );
    if saved.is_empty() {
        out.push_str(&format!(
            "<p class=\"empty\">{}</p>",
            tr!(lang, "Aucune.", "None.")
        ));
    } else {
        out.push_str("<ul>");
        for s in saved {
            out.push_str(&format!(
                "<li class=\"saved\"><a href=\"{}\">{}</a> <code>{}</code> <span class=\"small\">— {}, {}</span>",
                escape(&link(s, lang)),
                escape(&s.name),
                escape(&s.query),
                escape(&s.who),
                ui::time(Some(&s.time))
            ));
            if let Some(csrf) = csrf {
                out.push_str(&format!(
                    " <form method=\"post\" action=\"/api/v1/searches/{}/remove{}\" class=\"inline\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><input type=\"hidden\" name=\"back\" value=\"{}\"><button type=\"submit\" class=\"secondary\">{}</button></form>",
                    escape(&s.id),
                    escape(&for_tenant(tenant)),
                    escape(back),
                    tr!(lang, "Retirer", "Remove")
                ));
            }
            out.push_str("</li>");
        }
        out.push_str("</ul>");
    }
    out.push_str("</section>");
    out
}

/// `GET /api/v1/searches`.
pub(crate) async fn saved(State(s): State<Shared>, ReadTenant(tenant): ReadTenant) -> Response {
    match s.triage.searches(&tenant).await {
        Ok(l) => Json(l).into_response(),
        Err(e) => crate::unavailable(&format!("saved searches unreadable now: {e}")),
    }
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct SaveRequest {
    name: String,
    query: String,
    #[serde(default)]
    from: Option<String>,
    #[serde(default)]
    to: Option<String>,
    #[serde(default)]
    host: Option<String>,
    #[serde(default)]
    back: Option<String>,
}

fn non_empty(v: Option<String>) -> Option<String> {
    v.map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
}

/// `POST /api/v1/searches`: `{name, query, from?, to?, host?}`.
pub(crate) async fn save(
    State(s): State<Shared>,
    axum::Extension(p): axum::Extension<Principal>,
    ci: Option<axum::Extension<axum::extract::ConnectInfo<SocketAddr>>>,
    ReadTenant(tenant): ReadTenant,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let req: SaveRequest = match crate::triage::parse(&headers, &body) {
        Ok(r) => r,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                &format!("a saved search is {{name, query, from?, to?, host?}}: {e}"),
            )
        }
    };
    let name = req.name.trim().to_string();
    if name.is_empty() || name.chars().count() > 200 || req.query.chars().count() > 4000 {
        return error(
            StatusCode::BAD_REQUEST,
            "a name (1 to 200 characters) and a query (at most 4,000) are needed",
        );
    }
    if !req.query.trim().is_empty() {
        if let Err(e) = vigie_hunt::search::Query::parse(&req.query).and_then(|q| q.compile()) {
            return error(StatusCode::BAD_REQUEST, &e.to_string());
        }
    }
    let who = p.who();
    let time = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let id = format!("{:016x}", rand::random::<u64>());
    let saved = SavedSearch {
        id: id.clone(),
        tenant,
        name,
        query: req.query.trim().to_string(),
        from: non_empty(req.from),
        to: non_empty(req.to),
        host: non_empty(req.host),
        who: who.clone(),
        time,
    };
    if let Err(e) = s.triage.save_search(saved.clone()).await {
        return crate::unavailable(&format!("not kept, send again: {e}"));
    }
    s.console.audit(
        &who,
        &crate::client(ci).to_string(),
        Action::SearchSave,
        &format!("{id} {}", saved.query),
        AuditOutcome::Success,
    );
    crate::triage::answer(&headers, req.back.as_deref(), json!({ "search": saved }))
}

/// `POST /api/v1/searches/{id}/remove`.
pub(crate) async fn remove(
    State(s): State<Shared>,
    axum::Extension(p): axum::Extension<Principal>,
    ci: Option<axum::Extension<axum::extract::ConnectInfo<SocketAddr>>>,
    ReadTenant(tenant): ReadTenant,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let back = vigie_console::web::form_fields(&body).remove("back");
    let who = p.who();
    let removal = SearchRemoval {
        id: id.clone(),
        tenant,
        who: who.clone(),
        time: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    };
    match s.triage.remove_search(removal).await {
        Ok(true) => {}
        Ok(false) => return error(StatusCode::NOT_FOUND, &format!("no saved search {id}")),
        Err(e) => return crate::unavailable(&format!("not kept, send again: {e}")),
    }
    s.console.audit(
        &who,
        &crate::client(ci).to_string(),
        Action::SearchRemove,
        &id,
        AuditOutcome::Success,
    );
    crate::triage::answer(&headers, back.as_deref(), json!({ "removed": id }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_saved_search_links_back_to_itself() {
        let s = SavedSearch {
            id: "x".into(),
            tenant: "default".into(),
            name: "n".into(),
            query: "EventID:4625 -TargetUserName:adm*".into(),
            from: Some("2026-01-10 02:00".into()),
            to: None,
            host: Some("DC01".into()),
            who: "anne".into(),
            time: "t".into(),
        };
        assert_eq!(
            link(&s, Lang::En),
            "/search?q=EventID%3A4625%20-TargetUserName%3Aadm%2A&from=2026-01-10%2002%3A00&host=DC01&lang=en"
        );
    }
}
