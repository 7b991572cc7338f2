//! One detection: the raw event read back from the event log by its
//! position, the fields the rule matched, its triage — as a page and as
//! JSON (`/api/v1/detections/{id}`).
//!
//! Apart because it reads the event log, which the other pages never do:
//! what a missing or unreadable event looks like is decided here only.

use super::*;

/// The stored detection `id` of `tenant`.
pub(crate) async fn find_detection(
    s: &Shared,
    tenant: &str,
    id: &str,
) -> Result<Option<Value>, Response> {
    match s.detections.get(tenant, id).await {
        Ok(Some(d)) => Ok(serde_json::from_slice(&d).ok()),
        // A correlation is computed by the live scope, not stored.
        Ok(None) => Ok(crate::api::live_correlation(s, tenant, id).await),
        Err(e) => Err(crate::unavailable(&format!(
            "detections unreadable now: {e}"
        ))),
    }
}

/// The raw event of a detection read back from the event log by its
/// position: `(text, read back)`; the stored copy when the log no longer
/// holds it (said on the page).
pub(crate) async fn raw_event(s: &Shared, d: &Value) -> (String, bool) {
    if let Some(p) = d["position"].as_u64() {
        if let Ok(Some(delivery)) = s.log.read_at(vigie_store::Position(p)).await {
            // The same tenant, source and time of receipt: a log made
            // again (a stream recreated, its sequences from 1) must not
            // show another event as this detection's evidence.
            let received = chrono::DateTime::from_timestamp_micros(delivery.received)
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true));
            let same = delivery.tenant == d["tenant"].as_str().unwrap_or_default()
                && delivery.source == d["source"].as_str().unwrap_or_default()
                && d["received"]
                    .as_str()
                    .is_none_or(|r| received.as_deref() == Some(r));
            if same {
                // Bytes outside UTF-8 as Windows-1252, as it was read.
                let text = match vigie_source::value_as_read(&delivery.event) {
                    Value::String(s) => s,
                    v => serde_json::to_string_pretty(&v).unwrap_or_default(),
                };
                return (text, true);
            }
        }
    }
    (
        serde_json::to_string_pretty(&d["event"]).unwrap_or_default(),
        false,
    )
}

/// `GET /detections/{id}`: one detection, its raw event, why it matched.
pub(crate) async fn detection(
    State(s): State<Shared>,
    ReadTenant(tenant): ReadTenant,
    Reader { ref session, lang }: Reader,
    Path(id): Path<String>,
) -> Response {
    let path = ui::with_lang(&format!("/detections/{id}"), lang);
    let d = match find_detection(&s, &tenant, &id).await {
        Ok(Some(d)) => d,
        Ok(None) => return error(StatusCode::NOT_FOUND, &format!("no detection {id}")),
        Err(r) => return r,
    };
    let (raw, from_log) = raw_event(&s, &d).await;
    let states = match triage_states(&s, &tenant).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    let state = states.get(&target(TargetKind::Detection, &id));
    let title = d["rule_title"].as_str().unwrap_or("—").to_string();
    let mut body = String::new();
    let fact = |body: &mut String, k: String, v: String| {
        let _ = write!(body, "<dt>{k}</dt><dd>{v}</dd>");
    };
    body.push_str("<section class=\"card\" id=\"detection\"><dl class=\"facts\">");
    fact(
        &mut body,
        tr!(lang, "Niveau", "Level"),
        ui::level(lang, d["level"].as_str()),
    );
    fact(
        &mut body,
        tr!(lang, "Heure de l'événement", "Event time"),
        ui::time(d["time"].as_str()),
    );
    fact(
        &mut body,
        tr!(lang, "Machine", "Host"),
        escape(d["computer"].as_str().unwrap_or("—")),
    );
    fact(
        &mut body,
        tr!(lang, "Journal", "Channel"),
        escape(d["channel"].as_str().unwrap_or("—")),
    );
    fact(
        &mut body,
        tr!(lang, "Événement (ID, enregistrement)", "Event (ID, record)"),
        format!(
            "{} · {}",
            d["event_id"].as_u64().map_or("—".into(), |v| v.to_string()),
            d["record_id"]
                .as_u64()
                .map_or("—".into(), |v| v.to_string())
        ),
    );
    fact(
        &mut body,
        tr!(lang, "Règle", "Rule"),
        format!(
            "{} <code>{}</code>",
            escape(&title),
            escape(d["rule_id"].as_str().unwrap_or(""))
        ),
    );
    if let Some(run) = d["retrohunt"].as_str() {
        // Found later, over stored events, by indicators that arrived
        // after them: said, so that nobody reads it as a live alert.
        fact(
            &mut body,
            tr!(lang, "Trouvée par", "Found by"),
            format!(
                "<span id=\"retrohunt\">{} <code>{}</code></span>",
                tr!(
                    lang,
                    "une recherche rétrospective (indicateurs arrivés après l'événement)",
                    "a retro-hunt (indicators that arrived after the event)"
                ),
                escape(run)
            ),
        );
    }
    let tags: Vec<&str> = d["tags"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    fact(
        &mut body,
        tr!(lang, "Étiquettes", "Tags"),
        escape(&tags.join(", ")),
    );
    fact(
        &mut body,
        tr!(
            lang,
            "Source, position dans le journal des événements",
            "Source, position in the event log"
        ),
        format!(
            "{} · <code id=\"position\">{}</code>",
            escape(d["source"].as_str().unwrap_or("—")),
            d["position"].as_u64().map_or("—".into(), |v| v.to_string())
        ),
    );
    fact(
        &mut body,
        tr!(lang, "Reçu", "Received"),
        ui::time(d["received"].as_str()),
    );
    fact(
        &mut body,
        tr!(lang, "Détecté", "Detected"),
        ui::time(d["detected"].as_str()),
    );
    fact(
        &mut body,
        tr!(lang, "Statut", "Status"),
        ui::status(lang, state.map_or("new", |s| s.status.key())),
    );
    body.push_str("</dl></section>");

    // Why it matched.
    let matched = d["matched"].as_array().cloned().unwrap_or_default();
    let heads = [
        tr!(lang, "Sélection", "Selection"),
        tr!(lang, "Champ", "Field"),
        tr!(lang, "Valeur", "Value"),
    ];
    let heads: Vec<&str> = heads.iter().map(String::as_str).collect();
    let mut t = Table::new("matched", &heads);
    for m in &matched {
        t.row(
            "matched",
            &[
                escape(m["selection"].as_str().unwrap_or("")),
                escape(
                    m["field"]
                        .as_str()
                        .unwrap_or(&tr!(lang, "(mot-clé)", "(keyword)")),
                ),
                format!(
                    "<mark class=\"matched\">{}</mark>",
                    escape(m["value"].as_str().unwrap_or(""))
                ),
            ],
        );
    }
    let _ = write!(
        body,
        "<section class=\"card\" id=\"why\"><h2>{}</h2>{}</section>",
        tr!(
            lang,
            "Champs qui ont déclenché la règle",
            "Fields that matched the rule"
        ),
        if matched.is_empty() {
            format!("<p class=\"empty\">{}</p>", tr!(lang, "Non enregistrés pour cette détection (indicateur, corrélation, ou détection antérieure à cette version).", "Not recorded for this detection (an indicator, a correlation, or a detection older than this version)."))
        } else {
            t.html()
        }
    );
    let _ = write!(
        body,
        "<section class=\"card\" id=\"raw\"><h2>{}</h2><p class=\"intro\">{}</p><pre class=\"raw\" id=\"raw-event\" tabindex=\"0\">{}</pre></section>",
        tr!(lang, "Événement brut", "Raw event"),
        if from_log {
            tr!(lang, "Relu dans le journal des événements à sa position, tel qu'il est arrivé.", "Read back from the event log at its position, as it arrived.")
        } else {
            tr!(lang, "Le journal des événements ne le contient plus (durée de conservation) : copie gardée avec la détection.", "The event log no longer holds it (retention): the copy kept with the detection.")
        },
        escape(&raw)
    );
    body.push_str(&triage_card(
        lang,
        session,
        &tenant,
        "detection",
        &id,
        state,
        &path,
    ));
    ui::frame(session, lang, &path, &title, &body, None)
}

/// `GET /api/v1/detections/{id}`: one detection with its raw event read
/// back from the log (`raw_event`, `raw_event_from_log`).
pub(crate) async fn detection_json(
    State(s): State<Shared>,
    ReadTenant(tenant): ReadTenant,
    Path(id): Path<String>,
) -> Response {
    let mut d = match find_detection(&s, &tenant, &id).await {
        Ok(Some(d)) => d,
        Ok(None) => return error(StatusCode::NOT_FOUND, &format!("no detection {id}")),
        Err(r) => return r,
    };
    let (raw, from_log) = raw_event(&s, &d).await;
    d["raw_event"] = Value::String(raw);
    d["raw_event_from_log"] = Value::Bool(from_log);
    let states = match triage_states(&s, &tenant).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    d["triage"] =
        serde_json::to_value(states.get(&target(TargetKind::Detection, &id))).unwrap_or_default();
    axum::Json(d).into_response()
}
