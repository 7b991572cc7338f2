//! The one authorisation check of every route: a token (shippers,
//! scripts) or a session (people, through the console), judged against
//! what the route's line of [`crate::ROUTES`] needs.
//!
//! - `Authorization` present: the token decides, never a cookie (a
//!   shipper's request is judged on its own credentials).
//! - Else the session cookie: the role must grant the route's scope
//!   ([`role_grants`]); a state-changing request must carry the
//!   session's CSRF token (`X-CSRF-Token`, or the `csrf` field of a form).
//! - Else 401, except a browser asking for `/`, sent to `/login`.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use vigie_console::web::{self, SESSION_COOKIE};
use vigie_console::{Console, Principal, Role};

use crate::tokens::{self, Scope};
use crate::{error, presented, Access, Caller};

/// Largest form body read to find its CSRF field (forms of the console
/// are a few fields; a JSON body carries the header instead).
const FORM_MAX: usize = 64 << 10;

/// What the check needs: the tokens and the console's sessions.
pub(crate) struct Gate {
    pub(crate) tokens: Arc<dyn tokens::TokenStore>,
    pub(crate) console: Arc<Console>,
    /// The communes known (events received, assets given): the commune
    /// selector of a session reading every one lists them.
    pub(crate) live: Arc<crate::live::LiveScope>,
}

/// Whether a person of `role` may do what a token of scope `needed` may.
/// Reading is every role's but `communication`'s (public notices only);
/// sending events and administering are `admin`'s.
pub fn role_grants(role: Role, needed: Scope) -> bool {
    match needed {
        Scope::Read => role.reads(),
        Scope::Ingest | Scope::Admin => role == Role::Admin,
    }
}

/// What a token and what a session need for a route: `None` when
/// being authenticated is enough.
fn needs(access: Access) -> (Option<Scope>, Option<Scope>) {
    match access {
        Access::Open => (None, None),
        Access::Anyone => (None, None),
        Access::Needs(s) => (Some(s), Some(s)),
        Access::Deployment => (Some(Scope::Admin), Some(Scope::Admin)),
        // Shippers' handshake for a token, the console for a person.
        Access::Root => (Some(Scope::Ingest), Some(Scope::Read)),
        Access::Page => (Some(Scope::Read), Some(Scope::Read)),
        // The role is checked by itself (admin or analyst).
        Access::Triage | Access::SharedTriage => (Some(Scope::Admin), None),
        // The roles are checked by themselves.
        Access::Roles(s, _) => (Some(s), None),
    }
}

/// Routes that change or read what every commune shares: not for a
/// commune's own token or account.
fn shared(access: Access) -> bool {
    matches!(access, Access::Deployment | Access::SharedTriage)
}

fn changes_state(m: &Method) -> bool {
    !matches!(*m, Method::GET | Method::HEAD | Method::OPTIONS)
}

fn unauthorized() -> Response {
    challenge(
        "a token (Authorization: Bearer <token>) or a session (/login) is needed",
        "Bearer realm=\"vigie\"",
    )
}

/// An `Authorization` header that names no token of this deployment: a
/// different answer from a missing one, so that whoever configures a
/// shipper knows the header arrived and the token itself is wrong (the
/// `error="invalid_token"` of RFC 6750 says the same to a client).
/// Nothing tells whether the token ever existed.
fn invalid_token() -> Response {
    challenge(
        "this token is not recognised (mistyped, revoked, or of another deployment: `vigie token list` shows the deployment's); an Authorization header of the kind Bearer, Basic or ApiKey is read",
        "Bearer realm=\"vigie\", error=\"invalid_token\"",
    )
}

fn challenge(message: &str, www: &'static str) -> Response {
    let mut resp = error(StatusCode::UNAUTHORIZED, message);
    resp.headers_mut().insert(
        "WWW-Authenticate",
        axum::http::HeaderValue::from_static(www),
    );
    resp
}

/// The check, as a middleware of each route but the open ones.
pub(crate) async fn check(gate: Arc<Gate>, access: Access, req: Request, next: Next) -> Response {
    if access == Access::Open {
        return next.run(req).await;
    }
    let (token_needs, session_needs) = needs(access);
    let mut req = req;
    if req.headers().contains_key(header::AUTHORIZATION) {
        return match presented(req.headers()).and_then(|t| gate.tokens.check(&t)) {
            Some(r) if shared(access) && r.tenant != "default" => error(
                StatusCode::FORBIDDEN,
                "this token administers its commune, not the deployment",
            ),
            // A token of several communes only reads (`tokens::tenant_of`
            // makes no other); one found otherwise (a row written by
            // hand) opens nothing rather than send events "to several".
            Some(r) if !r.communes().is_empty() && r.scope != Scope::Read => error(
                StatusCode::FORBIDDEN,
                "a token of several communes only reads (its row is not one `vigie token create` makes: revoke it)",
            ),
            Some(r) if token_needs.is_none_or(|s| r.scope.allows(s)) => {
                let scope = format!("{:?}", r.scope).to_lowercase();
                req.extensions_mut().insert(Principal::Token {
                    name: r.name.clone(),
                    scope,
                });
                req.extensions_mut().insert(Caller {
                    // An admin token of one commune (`vigie token create
                    // --scope admin --tenant NAME`) reads that commune's
                    // only, as an account bound to it does; the
                    // deployment's own (tenant `default`) reads every one.
                    admin: r.scope == Scope::Admin && r.tenant == "default",
                    reads_all: r.scope == Scope::Admin && r.tenant == "default",
                    // A read token of several communes (`--tenant A
                    // --tenant B`) reads those and no other, as an
                    // account assigned them does ([`Caller::may_read`]).
                    assigned: r.communes(),
                    tenant: r.tenant,
                    // A script names the commune it reads: a cookie sent
                    // along with a token changes nothing.
                    chosen: None,
                });
                next.run(req).await
            }
            // Said with what it needs: a technician with the wrong token
            // knows which one to make.
            Some(r) => error(
                StatusCode::FORBIDDEN,
                &format!(
                    "this token's scope ({}) does not allow it: needs scope {}",
                    format!("{:?}", r.scope).to_lowercase(),
                    token_needs
                        .map(|s| format!("{s:?}").to_lowercase())
                        .unwrap_or_default()
                ),
            ),
            None => invalid_token(),
        };
    }
    let now = vigie_console::now();
    let session = match web::cookie(req.headers(), SESSION_COOKIE) {
        // The store out of reach (PostgreSQL away): said, the session
        // kept — never a way to /login as if it had ended.
        Some(id) => match gate.console.session_checked(id, now) {
            Ok(s) => s.map(|s| (id.to_string(), s)),
            Err(_) => {
                return crate::unavailable(
                    "the accounts' store cannot be read now (the database is unavailable): your session is kept, retry in a moment",
                )
            }
        },
        None => None,
    };
    let Some((id, session)) = session else {
        let page = match access {
            Access::Root | Access::Page => true,
            Access::Roles(..) => !req.uri().path().starts_with("/api/"),
            _ => false,
        };
        if req.method() == Method::GET && page && web::accepts_html(req.headers()) {
            return (StatusCode::SEE_OTHER, [(header::LOCATION, "/login")]).into_response();
        }
        return unauthorized();
    };
    if shared(access) && !session.deployment_wide() {
        return error(
            StatusCode::FORBIDDEN,
            "an account of one commune does not administer the deployment",
        );
    }
    let refused = match access {
        Access::Triage | Access::SharedTriage => !crate::triage::may_triage(session.role),
        Access::Roles(_, roles) => !roles.contains(&session.role),
        _ => session_needs.is_some_and(|s| !role_grants(session.role, s)),
    };
    if refused {
        return error(
            StatusCode::FORBIDDEN,
            &format!("the role {} does not allow it", session.role),
        );
    }
    if changes_state(req.method()) {
        let (parts, body) = req.into_parts();
        let is_form = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        let (field, body) = if is_form && !parts.headers.contains_key(web::CSRF_HEADER) {
            match axum::body::to_bytes(body, FORM_MAX).await {
                Ok(b) => (web::form_field(&b, web::CSRF_FIELD), Body::from(b)),
                Err(_) => return error(StatusCode::PAYLOAD_TOO_LARGE, "form too large"),
            }
        } else {
            (None, body)
        };
        if !web::csrf_ok(&session, &parts.headers, field.as_deref()) {
            return error(
                StatusCode::FORBIDDEN,
                "CSRF token missing or wrong: send the session's token in X-CSRF-Token (GET /api/v1/me gives it)",
            );
        }
        req = Request::from_parts(parts, body);
    }
    let mut caller = Caller {
        // An account bound to a commune (`vigie user add --tenant`) reads
        // that commune's only, whatever its role; the deployment's own
        // accounts are of the `default` tenant, and its admins read every
        // tenant as an admin token does. An account assigned several
        // communes reads those only ([`Caller::may_read`]) and
        // administers nothing.
        tenant: session
            .tenant
            .clone()
            .unwrap_or_else(|| "default".to_string()),
        admin: session.role == Role::Admin && session.deployment_wide(),
        reads_all: session.role.reads() && session.deployment_wide(),
        assigned: session.assigned.clone(),
        chosen: None,
    };
    let mut session = session;
    if caller.several() {
        let communes = if caller.assigned.is_empty() {
            gate.live.communes()
        } else {
            caller.assigned.clone()
        };
        // A choice kept in the cookie that the account may no longer read
        // (its set changed) is no choice.
        caller.chosen = web::cookie(req.headers(), web::COMMUNE_COOKIE)
            .filter(|t| vigie_console::users::valid_tenant(t) && caller.may_read(t))
            .map(str::to_string);
        // One deployment of one commune (`default` alone) keeps its pages
        // as they were: no selector, no landing page.
        if communes.iter().any(|t| t != "default") || !caller.assigned.is_empty() {
            let asked = req
                .uri()
                .query()
                .and_then(|q| {
                    form_urlencoded::parse(q.as_bytes())
                        .find(|(k, _)| k == "tenant")
                        .map(|(_, v)| v.into_owned())
                })
                .filter(|t| caller.may_read(t));
            session.picker = Some(vigie_console::pages::Picker {
                communes,
                chosen: asked.or_else(|| caller.chosen.clone()),
            });
        }
    }
    req.extensions_mut().insert(caller);
    req.extensions_mut()
        .insert(Principal::Person { id, session });
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_grant_reading_but_only_admin_changes() {
        for r in Role::ALL {
            assert_eq!(role_grants(r, Scope::Read), r != Role::Communication);
            assert_eq!(role_grants(r, Scope::Ingest), r == Role::Admin);
            assert_eq!(role_grants(r, Scope::Admin), r == Role::Admin);
        }
    }
}
