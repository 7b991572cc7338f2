//! The administrators' view of the API tokens: listed (never the tokens
//! themselves, which are not kept: their id, name, scope, tenant,
//! creation, revocation) and revocable, from the console or the API;
//! each revocation audited. And what a node says at start of its tokens
//! and accounts.

use std::net::SocketAddr;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use vigie_console::audit::{Action, Outcome};
use vigie_console::pages::{self as ui, Table};
use vigie_console::Principal;
use vigie_lang::tr;
use vigie_report::html::escape;

use crate::pages::Reader;
use crate::tokens::{self, TokenRecord};
use crate::{error, Shared};

fn listed(r: &TokenRecord) -> Value {
    json!({
        "id": r.id(),
        "name": r.name,
        "scope": r.scope,
        "tenant": r.tenant,
        "created": r.created,
        "revoked": r.revoked,
    })
}

async fn load(s: &Shared) -> Result<Vec<TokenRecord>, Box<Response>> {
    let store = s.tokens.clone();
    tokio::task::spawn_blocking(move || store.list())
        .await
        .unwrap_or_else(|e| Err(e.to_string()))
        .map_err(|e| Box::new(crate::unavailable(&format!("tokens unreadable now: {e}"))))
}

/// `GET /api/v1/tokens` (admin).
pub(crate) async fn list(State(s): State<Shared>) -> Response {
    match load(&s).await {
        Ok(t) => Json(t.iter().map(listed).collect::<Vec<_>>()).into_response(),
        Err(r) => *r,
    }
}

/// `POST /api/v1/tokens/{id}/revoke` (admin): the token opens nothing
/// from the next request on.
pub(crate) async fn revoke(
    State(s): State<Shared>,
    axum::Extension(p): axum::Extension<Principal>,
    ci: Option<axum::Extension<axum::extract::ConnectInfo<SocketAddr>>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let back = vigie_console::web::form_fields(&body).remove("back");
    let who = p.who();
    let store = s.tokens.clone();
    let by = who.clone();
    let i = id.clone();
    let done = tokio::task::spawn_blocking(move || store.revoke(&i, &by)).await;
    let from = crate::client(ci).to_string();
    match done {
        Ok(Ok(r)) => {
            s.console.audit(
                &who,
                &from,
                Action::TokenRevoke,
                &format!("{} ({})", r.name, r.id()),
                Outcome::Success,
            );
            crate::triage::answer(&headers, back.as_deref(), json!({ "revoked": listed(&r) }))
        }
        Ok(Err(tokens::RevokeError::Unknown(m))) => error(StatusCode::NOT_FOUND, &m),
        Ok(Err(e)) => crate::unavailable(&e.to_string()),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

/// `GET /tokens` (admin): the tokens, each revocable.
pub(crate) async fn page(
    State(s): State<Shared>,
    Reader { ref session, lang }: Reader,
) -> Response {
    let path = ui::with_lang("/tokens", lang);
    let title = tr!(lang, "Jetons d'accès", "Access tokens");
    let tokens = match load(&s).await {
        Ok(t) => t,
        Err(r) => return *r,
    };
    let heads = [
        tr!(lang, "Identifiant", "Id"),
        tr!(lang, "Nom", "Name"),
        tr!(lang, "Portée", "Scope"),
        tr!(lang, "Commune", "Tenant"),
        tr!(lang, "Créé", "Created"),
        tr!(lang, "État", "State"),
    ];
    let heads: Vec<&str> = heads.iter().map(String::as_str).collect();
    let mut t = Table::new("tokens", &heads);
    for r in &tokens {
        let state = match &r.revoked {
            Some(x) => format!(
                "<span class=\"pill tone-grey\">{}</span> {} — {}",
                tr!(lang, "révoqué", "revoked"),
                escape(&x.by),
                ui::time(Some(&x.time))
            ),
            None => format!(
                "<span class=\"pill tone-green\">{}</span> <form method=\"post\" action=\"/api/v1/tokens/{id}/revoke\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><input type=\"hidden\" name=\"back\" value=\"{back}\"><button type=\"submit\" class=\"danger\" aria-label=\"{label}\">{revoke}</button></form>",
                tr!(lang, "actif", "active"),
                id = escape(r.id()),
                csrf = session.csrf,
                back = escape(&path),
                label = escape(&tr!(lang, "Révoquer le jeton {}", "Revoke token {}", r.name)),
                revoke = tr!(lang, "Révoquer", "Revoke"),
            ),
        };
        t.row(
            "token",
            &[
                format!("<code>{}</code>", escape(r.id())),
                escape(&r.name),
                escape(&format!("{:?}", r.scope).to_lowercase()),
                escape(&r.tenant),
                ui::time(Some(&r.created)),
                state,
            ],
        );
    }
    let body = format!(
        "<p class=\"intro\">{}</p>{}",
        tr!(
            lang,
            "Les jetons eux-mêmes ne sont pas conservés (seule leur empreinte SHA-256 l'est) : on les crée avec <code>vigie token create</code>, qui les affiche une fois. Un jeton révoqué n'ouvre plus rien dès la requête suivante.",
            "The tokens themselves are not kept (only their SHA-256 is): create them with <code>vigie token create</code>, which shows them once. A revoked token opens nothing from the next request on."
        ),
        if tokens.is_empty() {
            format!("<p class=\"empty\">{}</p>", tr!(lang, "Aucun jeton.", "No token."))
        } else {
            t.html()
        }
    );
    ui::frame(session, lang, &path, &title, &body, None)
}

/// What a node says at start of its tokens and accounts: a
/// `tokens.jsonl` imported into the database (`imported`, audited), a
/// `users.json` not read with `--db`, how to make the first account.
pub(crate) async fn said_at_start(s: &Shared, imported: Option<String>) {
    if let Some(what) = imported {
        eprintln!(
            "vigie serve: {what} (with --db the database's tokens are used: `vigie token … --db`)"
        );
        let c = s.console.clone();
        let _ = tokio::task::spawn_blocking(move || {
            c.audit(
                "system",
                "start",
                Action::TokenCreate,
                &what,
                Outcome::Success,
            )
        })
        .await;
    }
    if s.config.db.is_some() && s.config.data.join("users.json").exists() {
        // Not imported: an account removed from the database would come
        // back at each start of a node that still had it.
        eprintln!(
            "vigie serve: {}/users.json is not read with --db: the accounts are the database's (`vigie user add … --db`)",
            s.config.data.display()
        );
    }
    let c = s.console.clone();
    let has_users = tokio::task::spawn_blocking(move || c.has_users())
        .await
        .unwrap_or(true);
    if !has_users {
        let place = match &s.config.db {
            Some(url) => format!(
                "--db {}",
                vigie_db::place(url).trim_start_matches("PostgreSQL at ")
            ),
            None => format!("--data {}", s.config.data.display()),
        };
        eprintln!(
            "vigie serve: no console account yet (no default one): create the first with `vigie user add NAME --role admin {place}`"
        );
    }
}
