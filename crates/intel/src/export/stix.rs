//! The incident as a STIX 2.1 bundle, valid under the OASIS validator's
//! `--strict` mode:
//!
//! * `identity` of the organisation (`created_by_ref` of everything, the
//!   place of the sightings), `sectors: government-local`;
//! * the chosen TLP 2.0 `marking-definition` (the OASIS objects, ids as
//!   published), on every object;
//! * `incident` (core properties: name, description, ATT&CK tactics as
//!   kill-chain phases), `related-to` its `attack-pattern`s (external
//!   reference `mitre-attack` with the technique id) and its indicators;
//! * per observable: the SCO (deterministic UUIDv5 id), an
//!   `observed-data` of it, an `indicator` whose STIX pattern matches it
//!   (`based-on` the observed data), and a `sighting` of the indicator by
//!   the organisation with its first and last times and count;
//! * per tool: a `tool` the tool's indicator `indicates`.
//!
//! Ids are deterministic (see `ids`) and times are the scope's: the same
//! scope and TLP give the same bundle, byte for byte.

use serde_json::{json, Value as Json};

use super::{Findings, Observed, Role, ToolFile};
use crate::ids::{sco_id, sdo_id};
use crate::model::{HashAlgo, Tlp};
use crate::normalize;
use crate::taxii::server::stamp;

/// The id of the OASIS TLP 2.0 extension definition.
pub const TLP2_EXTENSION: &str = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d";

/// How long a network indicator stays valid after it was last seen:
/// addresses and names change hands; digests do not expire.
pub const NETWORK_VALIDITY_DAYS: i64 = 180;

/// The id of the TLP 2.0 marking definition of `tlp`.
pub fn tlp_marking_id(tlp: Tlp) -> &'static str {
    match tlp {
        Tlp::Clear => "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
        Tlp::Green => "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
        Tlp::Amber => "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
        Tlp::AmberStrict => "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
        Tlp::Red => "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
    }
}

/// The TLP 2.0 marking definition object, as OASIS publishes it.
pub fn tlp_marking(tlp: Tlp) -> Json {
    json!({
        "type": "marking-definition",
        "spec_version": "2.1",
        "id": tlp_marking_id(tlp),
        "created": "2022-10-01T00:00:00.000Z",
        "name": tlp.label(),
        "extensions": {
            TLP2_EXTENSION: {
                "extension_type": "property-extension",
                "tlp_2_0": tlp.name(),
            }
        }
    })
}

/// A string in a STIX pattern: `'` and `\` escaped.
pub fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// How sure the organisation is that the observable is the attacker's.
pub fn confidence(role: Role) -> u8 {
    match role {
        Role::Entry | Role::Attacker => 85,
        Role::Tool => 70,
        Role::RemoteAccess | Role::Exfiltration => 50,
        Role::Contacted => 40,
    }
}

struct Ctx<'a> {
    f: &'a Findings,
    tlp: Tlp,
    org_id: String,
    now: String,
    objects: Vec<Json>,
    incident_id: Option<String>,
}

impl Ctx<'_> {
    /// Common properties of an SDO or SRO.
    fn sdo(&self, ty: &str, id: &str) -> Json {
        json!({
            "type": ty,
            "spec_version": "2.1",
            "id": id,
            "created": self.now,
            "modified": self.now,
            "created_by_ref": self.org_id,
            "object_marking_refs": [tlp_marking_id(self.tlp)],
        })
    }

    fn seed(&self, what: &str) -> String {
        format!("{}\u{0}{what}", self.f.organisation)
    }

    fn relationship(&mut self, source: &str, ty: &str, target: &str) {
        let id = sdo_id(
            "relationship",
            &self.seed(&format!("{source}\u{0}{ty}\u{0}{target}")),
        );
        let mut r = self.sdo("relationship", &id);
        r["relationship_type"] = json!(ty);
        r["source_ref"] = json!(source);
        r["target_ref"] = json!(target);
        self.objects.push(r);
    }

    /// SCO, observed data, indicator, sighting and relationships of one
    /// observable; returns the indicator's id.
    #[allow(clippy::too_many_arguments)]
    fn observable(
        &mut self,
        sco: Json,
        pattern: String,
        name: String,
        description: String,
        role: Role,
        first: Option<chrono::DateTime<chrono::Utc>>,
        last: Option<chrono::DateTime<chrono::Utc>>,
        count: u64,
        expires: bool,
    ) -> String {
        let sco_ref = sco["id"].as_str().unwrap_or_default().to_string();
        let first = first.unwrap_or(self.f.as_of);
        let last = last.unwrap_or(first).max(first);
        let count = count.clamp(1, 999_999_999);
        self.objects.push(sco);

        let od_id = sdo_id("observed-data", &self.seed(&sco_ref));
        let mut od = self.sdo("observed-data", &od_id);
        od["first_observed"] = json!(stamp(first));
        od["last_observed"] = json!(stamp(last));
        od["number_observed"] = json!(count);
        od["object_refs"] = json!([sco_ref]);
        self.objects.push(od);

        let ind_id = sdo_id("indicator", &self.seed(&pattern));
        let mut ind = self.sdo("indicator", &ind_id);
        ind["name"] = json!(name);
        ind["description"] = json!(description);
        ind["indicator_types"] = json!([role.indicator_type()]);
        ind["pattern"] = json!(pattern);
        ind["pattern_type"] = json!("stix");
        ind["pattern_version"] = json!("2.1");
        ind["valid_from"] = json!(stamp(first));
        if expires {
            ind["valid_until"] = json!(stamp(last + chrono::Duration::days(NETWORK_VALIDITY_DAYS)));
        }
        ind["confidence"] = json!(confidence(role));
        if let Some(inc) = &self.f.incident {
            let phases: Vec<Json> = inc
                .tactics
                .iter()
                .filter(|t| role_tactic(role).is_some_and(|r| r == t.as_str()))
                .map(|t| json!({"kill_chain_name": "mitre-attack", "phase_name": t}))
                .collect();
            if !phases.is_empty() {
                ind["kill_chain_phases"] = json!(phases);
            }
        }
        self.objects.push(ind);
        self.relationship(&ind_id, "based-on", &od_id);
        if let Some(inc) = self.incident_id.clone() {
            self.relationship(&ind_id, "related-to", &inc);
        }

        let s_id = sdo_id("sighting", &self.seed(&ind_id));
        let mut s = self.sdo("sighting", &s_id);
        s["sighting_of_ref"] = json!(ind_id);
        s["observed_data_refs"] = json!([od_id]);
        s["where_sighted_refs"] = json!([self.org_id]);
        s["first_seen"] = json!(stamp(first));
        s["last_seen"] = json!(stamp(last));
        s["count"] = json!(count);
        self.objects.push(s);
        ind_id
    }
}

/// The ATT&CK tactic an observable of this role belongs to.
fn role_tactic(role: Role) -> Option<&'static str> {
    match role {
        Role::Entry => Some("initial-access"),
        Role::Exfiltration => Some("exfiltration"),
        Role::RemoteAccess => Some("command-and-control"),
        _ => None,
    }
}

/// The bundle of `f` under `tlp`.
pub fn bundle(f: &Findings, tlp: Tlp, lang: vigie_lang::Lang) -> Json {
    let org_id = sdo_id("identity", &f.organisation);
    let mut c = Ctx {
        f,
        tlp,
        org_id: org_id.clone(),
        now: stamp(f.as_of),
        objects: Vec::new(),
        incident_id: None,
    };
    c.objects.push(tlp_marking(tlp));
    let mut org = c.sdo("identity", &org_id);
    org["name"] = json!(f.organisation);
    org["identity_class"] = json!("organization");
    org["sectors"] = json!(["government-local"]);
    c.objects.push(org);

    if let Some(inc) = &f.incident {
        let id = sdo_id("incident", &c.seed(&inc.id));
        let mut o = c.sdo("incident", &id);
        o["name"] = json!(inc.name);
        o["description"] = json!(inc.description);
        let phases: Vec<Json> = inc
            .tactics
            .iter()
            .map(|t| json!({"kill_chain_name": "mitre-attack", "phase_name": t}))
            .collect();
        if !phases.is_empty() {
            o["kill_chain_phases"] = json!(phases);
        }
        c.objects.push(o);
        c.incident_id = Some(id);
    }

    for t in &f.techniques {
        let id = sdo_id("attack-pattern", &format!("mitre-attack\u{0}{}", t.id));
        let mut o = c.sdo("attack-pattern", &id);
        o["name"] = json!(t.name.clone().unwrap_or_else(|| t.id.clone()));
        o["external_references"] = json!([{
            "source_name": "mitre-attack",
            "external_id": t.id,
            "url": format!("https://attack.mitre.org/techniques/{}/", t.id.replace('.', "/")),
        }]);
        if let Some(tac) = &t.tactic {
            o["kill_chain_phases"] =
                json!([{"kill_chain_name": "mitre-attack", "phase_name": tac}]);
        }
        let rules: Vec<String> = t
            .rules
            .iter()
            .map(|(r, _, n)| format!("{r} ({n})"))
            .collect();
        o["description"] = json!(vigie_lang::tr!(
            lang,
            "Observé {} fois : {}",
            "Seen {} times: {}",
            t.count,
            normalize::cut(&rules.join("; "), 1000)
        ));
        c.objects.push(o);
        if let Some(inc) = c.incident_id.clone() {
            c.relationship(&inc, "related-to", &id);
        }
    }

    for a in &f.addresses {
        address(&mut c, a, lang);
    }
    for d in &f.domains {
        domain(&mut c, d, lang);
    }
    for t in &f.tools {
        tool(&mut c, t, lang);
    }

    json!({
        "type": "bundle",
        "id": sdo_id("bundle", &format!("{}\u{0}{}\u{0}{}", f.organisation, f.incident.as_ref().map(|i| i.id.as_str()).unwrap_or(""), tlp.name())),
        "objects": c.objects,
    })
}

fn describe(o: &Observed, lang: vigie_lang::Lang) -> String {
    let mut d = o.role.words(lang).to_string();
    if o.hosts > 0 {
        d.push_str(&vigie_lang::tr!(
            lang,
            " ; {} machine(s) de l'organisation concernée(s)",
            "; {} host(s) of the organisation involved",
            o.hosts
        ));
    }
    if !o.reasons.is_empty() {
        d.push_str(" — ");
        d.push_str(&normalize::cut(&o.reasons.join("; "), 800));
    }
    d
}

fn address(c: &mut Ctx<'_>, a: &Observed, lang: vigie_lang::Lang) {
    let ty = if a.value.contains(':') {
        "ipv6-addr"
    } else {
        "ipv4-addr"
    };
    let sco = json!({
        "type": ty,
        "spec_version": "2.1",
        "id": sco_id(ty, &json!({"value": a.value})),
        "value": a.value,
    });
    let pattern = format!("[{ty}:value = {}]", quote(&a.value));
    c.observable(
        sco,
        pattern,
        a.value.clone(),
        describe(a, lang),
        a.role,
        a.first,
        a.last,
        a.count,
        true,
    );
}

fn domain(c: &mut Ctx<'_>, d: &Observed, lang: vigie_lang::Lang) {
    let sco = json!({
        "type": "domain-name",
        "spec_version": "2.1",
        "id": sco_id("domain-name", &json!({"value": d.value})),
        "value": d.value,
    });
    let pattern = format!("[domain-name:value = {}]", quote(&d.value));
    c.observable(
        sco,
        pattern,
        d.value.clone(),
        describe(d, lang),
        d.role,
        d.first,
        d.last,
        d.count,
        true,
    );
}

fn tool(c: &mut Ctx<'_>, t: &ToolFile, lang: vigie_lang::Lang) {
    let tool_id = sdo_id(
        "tool",
        &c.seed(&format!(
            "{}\u{0}{:?}",
            t.name,
            t.hashes.get(&HashAlgo::Sha256)
        )),
    );
    let mut o = c.sdo("tool", &tool_id);
    o["name"] = json!(t.name);
    o["tool_types"] = json!([t.tool_type()]);
    if !t.rules.is_empty() {
        o["description"] = json!(normalize::cut(&t.rules.join("; "), 1000));
    }
    c.objects.push(o);
    if let Some(inc) = c.incident_id.clone() {
        c.relationship(&inc, "related-to", &tool_id);
    }
    let mut hashes = serde_json::Map::new();
    let mut tests = Vec::new();
    for (algo, hex) in &t.hashes {
        if let Some(name) = algo.stix_name() {
            hashes.insert(name.to_string(), json!(hex));
            tests.push(format!("file:hashes.{} = {}", quote(name), quote(hex)));
        }
    }
    if hashes.is_empty() {
        return;
    }
    let mut sco = json!({
        "type": "file",
        "spec_version": "2.1",
        "hashes": hashes,
        "name": t.name,
    });
    if let Some(imp) = t.hashes.get(&HashAlgo::Imphash) {
        sco["extensions"] = json!({"windows-pebinary-ext": {"pe_type": "exe", "imphash": imp}});
        tests.push(format!(
            "file:extensions.'windows-pebinary-ext'.imphash = {}",
            quote(imp)
        ));
    }
    // The id: the contributing properties, one digest of `hashes`.
    let mut contributing = json!({"name": t.name});
    for pref in ["MD5", "SHA-1", "SHA-256"] {
        if let Some(h) = sco["hashes"].get(pref) {
            contributing["hashes"] = json!({ pref: h });
            break;
        }
    }
    if let Some(ext) = sco.get("extensions") {
        contributing["extensions"] = ext.clone();
    }
    sco["id"] = json!(sco_id("file", &contributing));
    let pattern = format!("[{}]", tests.join(" OR "));
    let description = format!(
        "{} {} — {}",
        Role::Tool.words(lang),
        t.name,
        normalize::cut(&t.rules.join("; "), 800)
    );
    let ind = c.observable(
        sco,
        pattern,
        t.name.clone(),
        description,
        Role::Tool,
        t.first,
        t.last,
        t.count,
        false,
    );
    c.relationship(&ind, "indicates", &tool_id);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_quote_values() {
        assert_eq!(quote(r"it's a\b"), r"'it\'s a\\b'");
        let p = format!("[file:name = {}]", quote("it's.exe"));
        let c = crate::pattern::compile(&p).unwrap();
        assert_eq!(c.condition.any[0][0].test.value_text(), "it's.exe");
    }

    #[test]
    fn tlp_markings_are_the_published_ones() {
        for t in Tlp::ALL {
            let m = tlp_marking(t);
            assert_eq!(
                crate::import::stix::TLP_MARKINGS
                    .iter()
                    .find(|(id, _)| *id == m["id"])
                    .map(|x| x.1),
                Some(t)
            );
        }
    }
}
