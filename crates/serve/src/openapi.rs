//! `GET /api/v1/openapi.json`: the OpenAPI 3.1 description of every
//! route of [`crate::ROUTES`], with what each needs.

use serde_json::{json, Map, Value};

use crate::{Access, ROUTES};

/// One line per route: what it is for (the document is built from the
/// route table; a route without a line here is a test failure).
fn summary(method: &str, path: &str) -> &'static str {
    match (method, path) {
        ("GET", "/healthz") => "200 once serving and what its role needs answers (ingest: the bus; detect: the bus and the database; api: the database); else 503 naming what is down (open: it holds no data)",
        ("GET", "/login") => "The login page (HTML; open: it is the way in)",
        ("POST", "/login") => "Sign in: name, password, TOTP code (form; open)",
        ("POST", "/logout") => "Sign out: ends the session (CSRF token required)",
        ("GET", "/api/v1/me") => {
            "Who is calling: account and role, or token and scope; the session's CSRF token"
        }
        ("GET", "/api/v1/audit") => "The audit log, JSON Lines (admin)",
        ("GET", "/api/v1/openapi.json") => "This document",
        ("POST", "/api/v1/ingest") => "Send events as JSON Lines (gzip allowed); 200 once durable",
        ("GET", "/api/v1/detections") => "Detections, latest first, with the raw event",
        ("GET", "/api/v1/stats") => "Counts: events stored, detections, incidents",
        ("GET", "/api/v1/scope") => "The live scope of the incident (the JSON of hunt --scope)",
        ("GET", "/api/v1/incidents") => "The incidents of the live scope",
        ("GET", "/api/v1/incidents/{id}") => {
            "One incident by its live id (with merged_from); an id merged into another answers 200 with live_id, merged_into (the id it is part of now), merged_through and that incident — never a redirect a client would follow silently; 404 for an id the scope does not know"
        }
        ("GET", "/") => {
            "Elasticsearch handshake for shippers (token); the console for a signed-in browser"
        }
        ("GET", "/_license") => "Elasticsearch licence, for shippers",
        ("POST", "/_bulk") | ("POST", "/{index}/_bulk") => "Elasticsearch _bulk ingestion",
        ("GET", "/metrics") => "Prometheus metrics",
        ("GET", "/api/v1/sources") => {
            "Sources health: per source and host, last event, rate, silences"
        }
        ("POST", "/api/v1/retrohunt") => {
            "Run rules over the stored events of a time range (admin): rules, from, to, include_disabled, max_seconds (time budget), from_position (continue a stopped run); the summary says complete, stopped (budget, cancelled, short), reached_position, detections_truncated"
        }
        ("GET", "/api/v1/retrohunts") => {
            "The tenant's retro-hunts, newest first (100), each with state (running, done, stopped, failed, interrupted), events read and detections so far; running, readers_open"
        }
        ("GET", "/api/v1/retrohunts/{id}") => {
            "One retro-hunt's summary as it stands (its progress while it runs)"
        }
        ("GET", "/api/v1/indicators") => {
            "The indicator sources held: counts, what was left out and why, expired, retro-hunts"
        }
        ("POST", "/api/v1/indicators") => {
            "Upload indicators (STIX 2.1, MISP event, CSV, list; ?name=&format=&tlp=): matched at once, retro-hunted over the stored events"
        }
        ("DELETE", "/api/v1/indicators/{source}") => "Remove an indicator source (admin)",
        ("GET", "/api/v1/blocklist/{list}") => {
            "The live incident as a FortiGate external threat feed: ip.txt, domain.txt, hash.txt, blocklist.csv"
        }
        ("GET", "/taxii2/") => "TAXII 2.1 discovery: the API roots this caller reads",
        ("GET", "/taxii2/{root}/") => "TAXII 2.1 API root of a tenant",
        ("GET", "/taxii2/{root}/collections/") => {
            "TAXII 2.1 collections: the live incident (STIX 2.1, TLP:AMBER) and the indicators held"
        }
        ("GET", "/taxii2/{root}/collections/{id}/") => "TAXII 2.1 collection",
        ("GET", "/taxii2/{root}/collections/{id}/objects/") => {
            "TAXII 2.1 objects (added_after, limit/next, match[id|type|version|spec_version])"
        }
        ("GET", "/taxii2/{root}/collections/{id}/objects/{object}/") => "TAXII 2.1 one object",
        ("GET", "/taxii2/{root}/collections/{id}/objects/{object}/versions/") => {
            "TAXII 2.1 an object's versions"
        }
        ("GET", "/taxii2/{root}/collections/{id}/manifest/") => "TAXII 2.1 manifest",
        ("GET", "/_xpack") => "Elasticsearch features, for shippers",
        ("GET", "/_cluster/health") => "Elasticsearch cluster health, for shippers",
        ("GET", "/_nodes") => "Elasticsearch nodes, for shippers",
        ("GET", "/_index_template/{name}") | ("GET", "/_template/{name}") => {
            "Elasticsearch index template, for shippers (none kept)"
        }
        ("PUT", "/_index_template/{name}") | ("PUT", "/_template/{name}") => {
            "Elasticsearch index template, acknowledged (shippers install one before sending)"
        }
        ("GET", "/_ilm/policy/{name}") => "Elasticsearch ILM policy, for shippers",
        ("PUT", "/_ilm/policy/{name}") => "Elasticsearch ILM policy, acknowledged",
        ("GET", "/_nodes/ingest") => {
            "Elasticsearch ingest node and its processors, for Filebeat's modules"
        }
        ("GET", "/_ingest/pipeline/{id}") => {
            "Elasticsearch ingest pipeline, for Filebeat's modules (none kept, none run)"
        }
        ("PUT", "/_ingest/pipeline/{id}") => {
            "Elasticsearch ingest pipeline, acknowledged (Filebeat's modules install theirs; none run)"
        }
        ("GET", "/communes") => "The console's landing page of a CSIRT's analyst reading several communes: each commune with its events, open incidents and last event (HTML)",
        ("GET", "/communes/choose") => "Chooses the commune the console's pages show (tenant, next): kept in the vigie_commune cookie for the session; ?tenant= still wins",
        ("GET", "/incidents") => "The console's incidents page, the answer at the top (HTML)",
        ("GET", "/incidents/table") => {
            "The incidents table alone, with an ETag: what the page polls for live updates (HTML)"
        }
        ("GET", "/incidents/{id}") => "One incident by its live id (HTML)",
        ("GET", "/detections/{id}") => {
            "One detection: the raw event read back from the event log, the matched fields, triage (HTML)"
        }
        ("GET", "/filters") => "The false-positive filters, every version, editable (HTML)",
        ("GET", "/api/v1/detections/{id}") => {
            "One detection with its raw event read back from the event log and its triage"
        }
        ("GET", "/api/v1/triage") => "Triage of the tenant: status, assignee, history per target",
        ("POST", "/api/v1/triage") => {
            "Triage a detection or incident: status, assignee, comment; false_positive makes a filter"
        }
        ("GET", "/api/v1/filters") => "False-positive filters (Sigma), every version",
        ("POST", "/api/v1/filters/{id}") => "A new version of a filter, applied at once",
        ("POST", "/api/v1/filters/{id}/remove") => "Stop applying a filter (its versions stay)",
        ("GET", "/rules") => {
            "The rules in force (searchable), those not loaded with why, those turned off (HTML)"
        }
        ("GET", "/api/v1/rules") => {
            "Every rule in force, the failures with their reason, the rules turned off for every tenant and for the caller's (?tenant=), the SigmaHQ snapshot"
        }
        ("POST", "/api/v1/rules/{rule}/switch") => {
            "Turn a rule off or on again for new events: enabled, reason, tenant (a commune's admin: its own events only; the deployment's: every tenant, or one named; audited)"
        }
        ("POST", "/api/v1/rules/update") => {
            "Update the installed SigmaHQ rules to the latest release and apply them (admin; audited)"
        }
        ("GET", "/sources") => {
            "What arrives per listener, host and channel, the silent ones first, and the coverage (HTML)"
        }
        ("GET", "/audit") => {
            "The audit log's latest entries and whether its hash chain holds (HTML, admin)"
        }
        ("GET", "/search") => "The console's event search, with saved searches (HTML)",
        ("GET", "/api/v1/search") => {
            "Search the stored events: q (vigie search's language), from, to, host, limit (at most 1,000; 10 s of reading at most)"
        }
        ("GET", "/api/v1/searches") => "Saved searches of the tenant",
        ("POST", "/api/v1/searches") => "Save a search: name, query, from, to, host",
        ("POST", "/api/v1/searches/{id}/remove") => "Remove a saved search",
        ("GET", "/accounts") => {
            "The console accounts, each editable: role, communes, disabled or not, password reset, deletion (HTML, admin)"
        }
        ("GET", "/api/v1/accounts") => {
            "The console accounts: name, role, tenant, assigned communes, state (active, disabled, locked), second factor, created, last login (never a password; admin)"
        }
        ("POST", "/api/v1/accounts/{name}") => {
            "Change an account (form or JSON of strings): change = role (role), communes (communes: comma-separated, empty = every one), disable, enable, password (password and password2, the same; its sessions end) or delete; the last enabled administrator and one's own role, communes and state are refused; audited with before and after (admin)"
        }
        ("GET", "/tokens") => "The API tokens, each revocable (HTML, admin)",
        ("GET", "/api/v1/tokens") => {
            "The API tokens: id, name, scope, tenant, created, revoked (never the token; admin)"
        }
        ("POST", "/api/v1/tokens/{id}/revoke") => {
            "Revoke a token: it opens nothing from the next request on (admin)"
        }
        ("GET", "/api/v1/actions") => {
            "Containment: the live scope's plan, each action with target, evidence, impact on services, order in the ANSSI/CERT-FR sequence, undo, state, trail, commands to copy (communication: the notices to publish only)"
        }
        ("POST", "/api/v1/actions/{id}/request") => {
            "Request an action: {reason?} (admin, analyst, crisis; CSRF for sessions); audited and in the crisis log"
        }
        ("POST", "/api/v1/actions/{id}/approve") => {
            "Approve a requested action, four-eyes: never by its requester (crisis, admin); audited"
        }
        ("POST", "/api/v1/actions/{id}/reject") => {
            "Reject an action: {reason} (crisis, admin); audited"
        }
        ("POST", "/api/v1/actions/{id}/execute") => {
            "Execute an approved account action in the configured directory (LDAP); 409 where Vigie cannot act (use the commands, then done); 502 with the error when the directory fails (analyst, admin)"
        }
        ("POST", "/api/v1/actions/{id}/done") => {
            "Mark an approved action done by hand from the commands: {note?} (analyst, admin); audited"
        }
        ("POST", "/api/v1/actions/{id}/rollback") => {
            "Undo an executed action (through the directory when it was executed there) (analyst, admin); audited"
        }
        ("POST", "/api/v1/actions/{id}/publish") => {
            "Publish the notice an executed action prepared for the public page (communication, admin); audited"
        }
        ("GET", "/api/v1/crisis-log") => {
            "The crisis log (main courante) kept by the server: each containment step with who and when; ?format=json|csv|md"
        }
        ("GET", "/actions") => {
            "The console's containment page: proposals in sequence order, impact, trail, the steps the role may take, the commands (HTML)"
        }
        ("GET", "/api/v1/services") => {
            "The service board: each service's derived status and why, the status in force, its history (who, when, why)"
        }
        ("POST", "/api/v1/services/{id}/status") => {
            "Set a service's status by hand: {status (or derived), reason} (crisis, admin; CSRF for sessions); audited"
        }
        ("GET", "/api/v1/notices") => "The notices published for residents, with their updates",
        ("POST", "/api/v1/notices") => {
            "Publish an update for residents: {incident? | title, template | text, text_en?, service?, phase?} (communication, crisis, admin); audited"
        }
        ("GET", "/crisis") => "The crisis cell's page: the service board and its forms (HTML)",
        ("GET", "/crisis/notices") => "The crisis cell's notices page and its form (HTML)",
        ("GET", "/crisis/drafts") => {
            "The deadlines board and the notification drafts, from the live scope (HTML; ?known_at=)"
        }
        ("GET", "/crisis/drafts/{kind}") => {
            "A draft (cnil, letter, nis2-early, nis2-notification, nis2-final, plainte) from the live scope: ?format=html|md, ?known_at=, ?lang=en"
        }
        ("GET", "/status") | ("GET", "/status/{tenant}") => {
            "The public status page (HTML, no script; open: the one page without login; ?lang=en)"
        }
        ("GET", "/status/feed.atom") | ("GET", "/status/{tenant}/feed.atom") => {
            "The public status page's Atom feed (open)"
        }
        ("GET", "/status/history") | ("GET", "/status/{tenant}/history") => {
            "The public status page's history: resolved incidents and every status change (open)"
        }
        _ => "",
    }
}

fn security(access: Access) -> (Value, String) {
    let any = json!([{"bearer": []}, {"basic": []}, {"session": []}]);
    match access {
        Access::Open => (json!([]), "open".into()),
        Access::Anyone => (any, "any token or session".into()),
        Access::Needs(s) => (
            any,
            match s {
                crate::tokens::Scope::Ingest => "scope ingest, or role admin",
                crate::tokens::Scope::Read => "scope read, or any role but communication",
                crate::tokens::Scope::Admin => "scope admin, or role admin",
            }
            .into(),
        ),
        Access::Root => (
            any,
            "scope ingest (shippers), or a session of any role but communication (console)".into(),
        ),
        Access::Page => (any, "scope read, or any role but communication".into()),
        Access::Deployment => (
            any,
            "scope admin of the tenant default, or role admin not bound to a commune".into(),
        ),
        Access::Triage => (any, "scope admin, or role admin or analyst".into()),
        Access::SharedTriage => (
            any,
            "scope admin of the tenant default, or role admin or analyst not bound to a commune"
                .into(),
        ),
        Access::Roles(s, roles) => {
            let scope = match s {
                crate::tokens::Scope::Ingest => "ingest",
                crate::tokens::Scope::Read => "read",
                crate::tokens::Scope::Admin => "admin",
            };
            let roles: Vec<&str> = roles.iter().map(|r| r.key()).collect();
            (
                any,
                format!("scope {scope}, or a session of role {}", roles.join(", ")),
            )
        }
    }
}

/// What `GET /api/v1/incidents/{id}` answers: a script reads
/// `merged_into` to know that the id it holds (an alert's, a ticket's)
/// was merged, and follows it (see merged.rs for why not a redirect).
fn incident_responses(responses: &mut Map<String, Value>) {
    responses.insert(
        "200".into(),
        json!({
            "description": "the incident (merged_into null), or, for an id merged into another, what it became",
            "content": {"application/json": {"schema": {"oneOf": [
                {"type": "object", "description": "the incident, as in GET /api/v1/incidents",
                 "required": ["live_id", "merged_into", "merged_from"],
                 "properties": {
                    "live_id": {"type": "string"},
                    "merged_into": {"type": "null"},
                    "merged_from": {"type": "array", "items": {"type": "string"}, "description": "ids merged into this one"}
                 }},
                {"type": "object", "description": "an id merged into another",
                 "required": ["live_id", "merged_into", "merged_through", "incident"],
                 "properties": {
                    "live_id": {"type": "string", "description": "the id asked for"},
                    "merged_into": {"type": "string", "description": "the live id it is part of now (merges followed)"},
                    "merged_through": {"type": "array", "items": {"type": "string"}, "description": "the ids it went through on the way"},
                    "incident": {"type": ["object", "null"], "description": "the incident merged_into names; null when the scope no longer holds it"}
                 }}
            ]}}}
        }),
    );
    responses.insert(
        "404".into(),
        json!({"description": "no incident of this id in the live scope (never given, or its events removed), or no event of the tenant received yet"}),
    );
}

/// The document.
pub fn document() -> Value {
    let mut paths = Map::new();
    for (method, path, access) in ROUTES {
        let (sec, needs) = security(*access);
        let mut responses = Map::new();
        responses.insert("200".into(), json!({"description": "done"}));
        if *access != Access::Open {
            responses.insert(
                "401".into(),
                json!({"description": "no valid token or session"}),
            );
            responses.insert("403".into(), json!({"description": "the token's scope or the session's role does not allow it, or a state-changing request without the session's CSRF token"}));
        }
        if (method.as_str(), *path) == ("GET", "/api/v1/incidents/{id}") {
            incident_responses(&mut responses);
        }
        let op = json!({
            "summary": summary(method.as_str(), path),
            "security": sec,
            "x-vigie-access": needs,
            "responses": responses,
        });
        paths
            .entry(path.to_string())
            .or_insert_with(|| json!({}))
            .as_object_mut()
            .expect("an object")
            .insert(method.as_str().to_lowercase(), op);
    }
    json!({
        "openapi": "3.1.0",
        "info": {"title": "Vigie", "version": env!("CARGO_PKG_VERSION")},
        "paths": paths,
        "components": {"securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer", "description": "a token of `vigie token create`"},
            "basic": {"type": "http", "scheme": "basic", "description": "the token as the password (shippers)"},
            "session": {"type": "apiKey", "in": "cookie", "name": "vigie_session", "description": "a console session; state-changing requests also need X-CSRF-Token"}
        }}
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_is_described_once() {
        let doc = document();
        let mut n = 0;
        for (method, path, _) in ROUTES {
            assert!(
                !summary(method.as_str(), path).is_empty(),
                "{method} {path}"
            );
            assert!(doc["paths"][*path][method.as_str().to_lowercase()].is_object());
            n += 1;
        }
        let ops: usize = doc["paths"]
            .as_object()
            .unwrap()
            .values()
            .map(|v| v.as_object().unwrap().len())
            .sum();
        assert_eq!(ops, n);
    }
}
