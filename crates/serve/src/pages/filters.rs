//! The false-positive filters page: what the tenant's filters hide, and
//! why — apart because it reads the triage store, not the scope.

use super::*;

/// `GET /filters`: the false-positive filters, each version, editable.
pub(crate) async fn filters(
    State(s): State<Shared>,
    ReadTenant(tenant): ReadTenant,
    Reader { ref session, lang }: Reader,
) -> Response {
    let path = ui::with_lang("/filters", lang);
    let title = tr!(lang, "Filtres de faux positifs", "False-positive filters");
    let list = match s.triage.filters().await {
        Ok(l) => l
            .into_iter()
            .filter(|f| f.tenant == tenant)
            .collect::<Vec<_>>(),
        Err(e) => return crate::unavailable(&format!("filters unreadable now: {e}")),
    };
    let can_edit = crate::triage::may_triage(session.role);
    let mut body = format!(
        "<p class=\"intro\">{}</p>",
        tr!(lang, "Chaque faux positif marqué crée un filtre Sigma (pySigma, rsigma) appliqué aux nouveaux événements dès son enregistrement. Chaque modification garde la version précédente.", "Each false positive marked makes a Sigma filter (pySigma, rsigma) applied to new events as soon as it is saved. Each edit keeps the previous version.")
    );
    if list.is_empty() {
        let _ = write!(
            body,
            "<p class=\"empty\">{}</p>",
            tr!(lang, "Aucun filtre.", "No filter.")
        );
    }
    for f in list.iter().rev() {
        let active = f.active();
        let _ = write!(
            body,
            "<section class=\"card filter\" id=\"filter-{id}\" data-filter=\"{id}\"><h2><code>{id}</code> {state}</h2>",
            id = escape(&f.id),
            state = if active.is_some() {
                format!("<span class=\"pill tone-green\">{}</span>", tr!(lang, "appliqué", "applied"))
            } else {
                format!("<span class=\"pill tone-grey\">{}</span>", tr!(lang, "retiré", "removed"))
            }
        );
        if let Some(r) = &f.removed {
            let _ = write!(
                body,
                "<p>{} {} — {}</p>",
                tr!(lang, "Retiré par", "Removed by"),
                escape(&r.who),
                ui::time(Some(&r.time))
            );
        }
        for v in f.versions.iter().rev() {
            let _ = write!(
                body,
                "<details{open}><summary>{} {} — {} — {}</summary><pre class=\"raw\">{}</pre></details>",
                tr!(lang, "Version", "Version"),
                v.version,
                escape(&v.who),
                ui::time(Some(&v.time)),
                escape(&v.yaml),
                open = if Some(v) == active { " open" } else { "" },
            );
        }
        if let (Some(v), true) = (active, can_edit) {
            let _ = write!(
                body,
                "<form method=\"post\" action=\"/api/v1/filters/{id}{of}\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><input type=\"hidden\" name=\"back\" value=\"{back}\"><label for=\"yaml-{id}\">{edit}</label><textarea class=\"yaml\" id=\"yaml-{id}\" name=\"yaml\" spellcheck=\"false\">{yaml}</textarea><div class=\"actions\"><button type=\"submit\">{save}</button></div></form><form method=\"post\" action=\"/api/v1/filters/{id}/remove{of}\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><input type=\"hidden\" name=\"back\" value=\"{back}\"><div class=\"actions\"><button type=\"submit\" class=\"danger\">{remove}</button></div></form>",
                id = escape(&f.id),
                // The commune drawn for, never one chosen since.
                of = escape(&format!(
                    "?tenant={}",
                    form_urlencoded::byte_serialize(tenant.as_bytes()).collect::<String>()
                )),
                csrf = session.csrf,
                back = escape(&path),
                edit = tr!(lang, "Modifier (nouvelle version)", "Edit (new version)"),
                yaml = escape(&v.yaml),
                save = tr!(lang, "Enregistrer la nouvelle version", "Save the new version"),
                remove = tr!(lang, "Retirer ce filtre", "Remove this filter"),
            );
        }
        body.push_str("</section>");
    }
    ui::frame(session, lang, &path, &title, &body, None)
}
