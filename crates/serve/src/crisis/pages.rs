//! The console's pages of the crisis cell, plain HTML with forms (no
//! script needed): `/crisis`, the service board with, for `crisis` and
//! `admin`, a form per service to set its status with a reason; and
//! `/crisis/notices`, the notices published for residents with the form
//! to publish one from a template whose text is filled in to be edited.
//! French by default, English with `?lang=en`.

use crate::http::Query;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Deserialize;
use vigie_communicate::board::Origin;
use vigie_communicate::{public, Phase, Status, Template};
use vigie_console::{Principal, Session};
use vigie_lang::{tr, Lang};
use vigie_report::html::escape as esc;

use super::{board, current, PUBLISHERS, STATUS_SETTERS};
use crate::Shared;

/// The console's frame (navigation, who, sign out, the other language)
/// around `body`, for a person; a token gets 403 (these pages are for
/// people signed in: the API serves scripts).
fn framed(p: &Principal, lang: Lang, path: &str, title: &str, body: &str) -> Response {
    match session(p) {
        Some(s) => vigie_console::pages::frame(s, lang, path, title, body, None),
        None => crate::error(
            axum::http::StatusCode::FORBIDDEN,
            "the console's pages are for people signed in; scripts use /api/v1/services and /api/v1/notices",
        ),
    }
}

fn session(p: &Principal) -> Option<&Session> {
    match p {
        Principal::Person { session, .. } => Some(session),
        Principal::Token { .. } => None,
    }
}

/// A status as a pill of the report's status language.
pub(crate) fn badge(lang: Lang, s: Status) -> String {
    let tone = match s {
        Status::Operational => "tone-green",
        Status::Degraded | Status::Maintenance => "tone-amber",
        Status::PartialOutage | Status::MajorOutage => "tone-red",
        Status::Unknown => "tone-grey",
    };
    format!("<span class=\"pill {tone}\">{}</span>", esc(s.label(lang)))
}

fn when(t: vigie_event::Timestamp) -> String {
    vigie_console::pages::time_of(t)
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct PageQuery {
    lang: Option<String>,
    template: Option<String>,
    service: Option<String>,
    incident: Option<String>,
}

/// The crisis cell's pages, one from another.
fn links(lang: Lang) -> String {
    let q = with_lang_query(lang);
    format!(
        "<p class=\"actions\"><a href=\"/crisis{q}\">{}</a> · <a href=\"/crisis/notices{q}\">{}</a> · <a href=\"/crisis/drafts{q}\">{}</a> · <a href=\"/status{q}\">{}</a></p>\n",
        lang.pick("État des services", "Service status"),
        lang.pick("Avis aux habitants", "Notices to residents"),
        lang.pick("Brouillons et échéances", "Drafts and deadlines"),
        lang.pick("Page publique", "Public page"),
    )
}

fn with_lang_query(lang: Lang) -> &'static str {
    match lang {
        Lang::Fr => "",
        Lang::En => "?lang=en",
    }
}

fn lang_of(q: &PageQuery, headers: &HeaderMap) -> Lang {
    vigie_console::web::lang_of(q.lang.as_deref(), headers)
}

/// `GET /crisis`: the board, and the forms of those who set statuses.
pub(crate) async fn board_page(
    State(s): State<Shared>,
    axum::Extension(p): axum::Extension<Principal>,
    crate::ReadTenant(tenant): crate::ReadTenant,
    headers: HeaderMap,
    Query(q): Query<PageQuery>,
) -> Response {
    let lang = lang_of(&q, &headers);
    let tenant = tenant.as_str();
    let (scope, kept) = match current(&s, tenant, true).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let b = board(&s, &scope, &kept, lang);
    let who = session(&p);
    let may_set = who.is_some_and(|s| STATUS_SETTERS.contains(&s.role));
    let csrf = who.map(|s| s.csrf.clone()).unwrap_or_default();
    let mut h = links(lang);
    h.push_str(&format!(
        "<p class=\"small\">{}</p>\n",
        tr!(
            lang,
            "Chaque service du fichier des actifs, avec l'état que Vigie déduit du périmètre de l'incident ({} événements observés) et l'état en vigueur. La cellule de crise peut changer un état, avec un motif ; chaque changement est gardé avec son auteur et son heure, et publié sur la page publique.",
            "Every service of the assets file, with the status Vigie derives from the incident's scope ({} events observed) and the status in force. The crisis cell may change a status, with a reason; every change is kept with its author and time, and published on the public page.",
            s.live.events(tenant)
        )
    ));
    if b.services.is_empty() {
        h.push_str(&format!(
            "<p>{}</p>",
            lang.pick(
                "Aucun service : démarrez vigie serve avec --assets FICHIER.",
                "No service: start vigie serve with --assets FILE."
            )
        ));
    }
    h.push_str(&format!(
        "<table id=\"board\"><thead><tr><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th></tr></thead><tbody>\n",
        lang.pick("Service", "Service"),
        lang.pick("État en vigueur", "Status in force"),
        lang.pick("Déduit de l'analyse", "Derived from the analysis"),
        lang.pick("Historique", "History"),
    ));
    for (i, e) in b.services.iter().enumerate() {
        row(&mut h, tenant, lang, i, e, may_set, &csrf);
    }
    h.push_str("</tbody></table>\n");
    framed(
        &p,
        lang,
        &format!("/crisis{}", with_lang_query(lang)),
        lang.pick(
            "Cellule de crise : état des services",
            "Crisis cell: service status",
        ),
        &h,
    )
}

fn service_name(lang: Lang, e: &vigie_communicate::BoardEntry) -> String {
    e.public_name
        .as_ref()
        .map(|t| t.get(lang == Lang::Fr).to_string())
        .unwrap_or_else(|| e.service.clone())
}

/// `?tenant=…` (so a form acts on the commune shown — an administrator
/// of the deployment may look at any — never on one chosen since in
/// another tab), with `lang=en` when English.
fn tenant_query(tenant: &str, lang: Lang) -> String {
    let t: String = form_urlencoded::byte_serialize(tenant.as_bytes()).collect();
    let mut q = vec![format!("tenant={t}")];
    if lang == Lang::En {
        q.push("lang=en".into());
    }
    format!("?{}", q.join("&"))
}

/// The query a form's action carries: the tenant only (the language is
/// the form's own `back`).
fn tenant_action(tenant: &str) -> String {
    tenant_query(tenant, Lang::Fr)
}

// Each argument is a piece of the row (the commune, the language, its
// place, the entry, whether the reader may set it, the session's token).
#[allow(clippy::too_many_arguments)]
fn row(
    h: &mut String,
    tenant: &str,
    lang: Lang,
    i: usize,
    e: &vigie_communicate::BoardEntry,
    may_set: bool,
    csrf: &str,
) {
    let q = tenant_query(tenant, lang);
    let action = tenant_action(tenant);
    h.push_str(&format!(
        "<tr id=\"svc-{}\" data-service=\"{}\" data-status=\"{}\"><td><strong>{}</strong><br><code>{}</code>{}</td>",
        i + 1,
        esc(&e.service),
        e.status.key(),
        esc(&service_name(lang, e)),
        esc(&e.service),
        if e.internal {
            format!(" <span class=\"small\">({})</span>", lang.pick("interne", "internal"))
        } else {
            String::new()
        }
    ));
    // In force, with who set it and why.
    h.push_str(&format!("<td>{}", badge(lang, e.status)));
    match &e.overridden {
        Some(o) => h.push_str(&format!(
            "<br><span class=\"small\">{} {} — {}</span>",
            esc(&o.author),
            when(o.at),
            esc(&o.reason)
        )),
        // The derived status is a proposal: the public page says nothing
        // of the service until a person sets its status.
        None if !e.internal => h.push_str(&format!(
            "<br><span class=\"small\" data-unpublished=\"1\">{}</span>",
            lang.pick(
                "Non publié : la page publique n'affiche pas d'état pour ce service tant que la cellule n'en fixe pas un (l'état déduit est proposé ci-dessous).",
                "Not published: the public page shows no status for this service until the cell sets one (the derived status is offered below)."
            )
        )),
        None => {}
    }
    if may_set {
        let id = format!("svc-{}", i + 1);
        h.push_str(&format!(
            "<form method=\"post\" action=\"/api/v1/services/{}/status{action}\">\n<input type=\"hidden\" name=\"csrf\" value=\"{}\"><input type=\"hidden\" name=\"back\" value=\"/crisis{q}\">\n<label for=\"{id}-status\">{}</label><select id=\"{id}-status\" name=\"status\">",
            esc(&form_urlencoded::byte_serialize(e.service.as_bytes()).collect::<String>()),
            esc(csrf),
            lang.pick("Nouvel état", "New status"),
        ));
        h.push_str(&format!(
            "<option value=\"derived\">{}</option>",
            tr!(
                lang,
                "Revenir à l'état déduit ({})",
                "Back to the derived status ({})",
                e.derived.status.label(lang)
            )
        ));
        for st in Status::ALL {
            h.push_str(&format!(
                "<option value=\"{}\"{}>{}</option>",
                st.key(),
                if st == e.status { " selected" } else { "" },
                esc(st.label(lang))
            ));
        }
        h.push_str(&format!(
            "</select>\n<label for=\"{id}-reason\">{}</label><input id=\"{id}-reason\" name=\"reason\" type=\"text\" required maxlength=\"2000\">\n<button type=\"submit\">{}</button></form>",
            lang.pick("Motif (obligatoire)", "Reason (required)"),
            lang.pick("Changer l'état", "Change the status"),
        ));
    }
    h.push_str("</td>");
    h.push_str(&format!(
        "<td>{}<br><span class=\"small\">{}</span></td>",
        badge(lang, e.derived.status),
        esc(&e.derived.reason)
    ));
    h.push_str("<td><ol>");
    for c in e.history.iter().rev() {
        let by = match &c.origin {
            Origin::Scope => lang.pick("analyse", "analysis").to_string(),
            Origin::Person { author } => author.clone(),
        };
        h.push_str(&format!(
            "<li>{} {} — {} : {}</li>",
            when(c.at),
            badge(lang, c.status),
            esc(&by),
            esc(&c.reason)
        ));
    }
    h.push_str("</ol></td></tr>\n");
}

/// `GET /crisis/notices`: the notices, and the form to publish one.
/// `?template=…&service=…` fills the text from the template, to edit.
pub(crate) async fn notices_page(
    State(s): State<Shared>,
    axum::Extension(p): axum::Extension<Principal>,
    crate::ReadTenant(tenant): crate::ReadTenant,
    headers: HeaderMap,
    Query(q): Query<PageQuery>,
) -> Response {
    let lang = lang_of(&q, &headers);
    let tenant = tenant.as_str();
    let (scope, kept) = match current(&s, tenant, false).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let who = session(&p);
    let may_publish = who.is_some_and(|s| PUBLISHERS.contains(&s.role));
    let csrf = who.map(|s| s.csrf.clone()).unwrap_or_default();
    let fr_board = board(&s, &scope, &kept, Lang::Fr);
    let public: Vec<&vigie_communicate::BoardEntry> =
        fr_board.services.iter().filter(|e| !e.internal).collect();
    let qs = tenant_query(tenant, lang);
    let action = tenant_action(tenant);
    let mut h = links(lang);
    if may_publish {
        let template = q.template.as_deref().and_then(Template::parse);
        let service = q.service.as_deref().filter(|s| !s.is_empty());
        let (text_fr, text_en) = match template {
            Some(t) => {
                let en_board = board(&s, &scope, &kept, Lang::En);
                (
                    public::template_text(
                        &scope,
                        s.live.assets_of(&kept.tenant),
                        &fr_board,
                        t,
                        service,
                        Lang::Fr,
                    ),
                    public::template_text(
                        &scope,
                        s.live.assets_of(&kept.tenant),
                        &en_board,
                        t,
                        service,
                        Lang::En,
                    ),
                )
            }
            None => (String::new(), String::new()),
        };
        let incident = q.incident.as_deref().unwrap_or("");
        // Step 1: a template (and its service) fills the text.
        h.push_str(&format!(
            "<section class=\"card\" aria-labelledby=\"prep-h\"><h2 id=\"prep-h\">{}</h2>\n<form method=\"get\" action=\"/crisis/notices\">\n{}<input type=\"hidden\" name=\"lang\" value=\"{}\">\n<input type=\"hidden\" name=\"incident\" value=\"{}\">\n<label for=\"template\">{}</label><select id=\"template\" name=\"template\">",
            lang.pick("1. Partir d'un modèle", "1. Start from a template"),
            // A GET form's action loses its query: the commune goes as a field.
            if tenant == "default" {
                String::new()
            } else {
                format!("<input type=\"hidden\" name=\"tenant\" value=\"{}\">\n", esc(tenant))
            },
            lang.code(),
            esc(incident),
            lang.pick("Modèle", "Template"),
        ));
        for t in Template::ALL {
            h.push_str(&format!(
                "<option value=\"{}\"{}>{}</option>",
                t.key(),
                if Some(t) == template { " selected" } else { "" },
                esc(t.label(lang))
            ));
        }
        h.push_str(&format!(
            "</select>\n<label for=\"service\">{}</label><select id=\"service\" name=\"service\"><option value=\"\">—</option>",
            lang.pick("Service concerné (selon le modèle)", "Service concerned (as the template needs)")
        ));
        for e in &public {
            h.push_str(&format!(
                "<option value=\"{}\"{}>{}</option>",
                esc(&e.service),
                if Some(e.service.as_str()) == service {
                    " selected"
                } else {
                    ""
                },
                esc(&service_name(lang, e))
            ));
        }
        h.push_str(&format!(
            "</select>\n<button type=\"submit\">{}</button></form></section>\n",
            lang.pick("Remplir le texte", "Fill in the text")
        ));
        // Step 2: edit and publish.
        h.push_str(&format!(
            "<section class=\"card\" aria-labelledby=\"pub-h\"><h2 id=\"pub-h\">{}</h2>\n<form method=\"post\" action=\"/api/v1/notices{action}\" id=\"publish\">\n<input type=\"hidden\" name=\"csrf\" value=\"{}\"><input type=\"hidden\" name=\"back\" value=\"/crisis/notices{qs}\">\n<input type=\"hidden\" name=\"service\" value=\"{}\">\n<label for=\"incident\">{}</label><select id=\"incident\" name=\"incident\"><option value=\"\">{}</option>",
            lang.pick("2. Relire et publier", "2. Review and publish"),
            esc(&csrf),
            esc(service.unwrap_or("")),
            lang.pick("Incident", "Incident"),
            lang.pick("Nouvel incident (titre ci-dessous)", "New incident (title below)"),
        ));
        for n in kept
            .notices
            .incidents
            .iter()
            .filter(|n| n.resolved.is_none())
        {
            h.push_str(&format!(
                "<option value=\"{}\"{}>{}</option>",
                esc(&n.id),
                if n.id == incident { " selected" } else { "" },
                esc(n.title.get(lang == Lang::Fr))
            ));
        }
        h.push_str(&format!(
            "</select>\n<label for=\"title\">{}</label><input id=\"title\" name=\"title\" type=\"text\" maxlength=\"200\">\n<label for=\"phase\">{}</label><select id=\"phase\" name=\"phase\">",
            lang.pick("Titre d'un nouvel incident", "Title of a new incident"),
            lang.pick("Phase", "Phase"),
        ));
        for ph in Phase::ALL {
            h.push_str(&format!(
                "<option value=\"{}\">{}</option>",
                ph.key(),
                esc(ph.label(lang))
            ));
        }
        h.push_str(&format!(
            "</select>\n<label for=\"text\">{}</label><textarea id=\"text\" name=\"text\" required maxlength=\"5000\">{}</textarea>\n<label for=\"text_en\">{}</label><textarea id=\"text_en\" name=\"text_en\" maxlength=\"5000\">{}</textarea>\n<p class=\"small\">{}</p><button type=\"submit\">{}</button></form></section>\n",
            lang.pick("Texte (français)", "Text (French)"),
            esc(&text_fr),
            lang.pick("Texte (anglais, facultatif)", "Text (English, optional)"),
            esc(&text_en),
            lang.pick(
                "Publié tel quel sur la page publique et dans son flux Atom, avec l'heure ; les noms internes (machines, comptes, adresses) en sont retirés.",
                "Published as written on the public page and its Atom feed, with the time; internal names (hosts, accounts, addresses) are removed from it."
            ),
            lang.pick("Publier", "Publish"),
        ));
    }
    h.push_str(&format!(
        "<section aria-labelledby=\"list-h\"><h2 id=\"list-h\">{}</h2>\n",
        lang.pick("Avis publiés", "Notices published")
    ));
    if kept.notices.incidents.is_empty() {
        h.push_str(&format!(
            "<p>{}</p>",
            lang.pick("Aucun avis publié.", "No notice published.")
        ));
    }
    for n in kept.notices.incidents.iter().rev() {
        h.push_str(&format!(
            "<article class=\"card notice\" data-id=\"{}\"><h3>{}</h3><p class=\"small\">{} · {}</p><ol>",
            esc(&n.id),
            esc(n.title.get(lang == Lang::Fr)),
            esc(&n.id),
            esc(n.phase().label(lang)),
        ));
        for u in n.updates.iter().rev() {
            let text = match (&u.text, u.template) {
                (Some(t), _) => t.get(lang == Lang::Fr).to_string(),
                (None, Some(t)) => format!("[{}]", t.label(lang)),
                _ => String::new(),
            };
            h.push_str(&format!(
                "<li>{} — {} — {} : {}</li>",
                when(u.at),
                esc(u.phase.label(lang)),
                esc(u.author.as_deref().unwrap_or("")),
                esc(&text)
            ));
        }
        h.push_str("</ol></article>\n");
    }
    h.push_str("</section>\n");
    framed(
        &p,
        lang,
        &format!("/crisis/notices{}", with_lang_query(lang)),
        lang.pick(
            "Cellule de crise : avis aux habitants",
            "Crisis cell: notices to residents",
        ),
        &h,
    )
}
