//! A commune's own rule choices on the one engine of the deployment:
//! the rules each tenant turned off for its own events, left out of an
//! event's matches when that tenant's event matched them.

use vigie_detect::Match;

/// The rules turned off for one commune's events only, by tenant: the
/// keys (id, else name) of rules whose matches are left out for that
/// tenant's events. One engine judges every tenant (compiling one per
/// commune would multiply the cost by 200 for a region); a match is
/// looked up here only when the engine found one, so a mask costs nothing
/// on the events no rule matches.
pub type TenantOff = std::collections::HashMap<String, std::collections::HashSet<String>>;

/// Leaves out the rule matches (`matches[..from_rules]`) of rules turned
/// off for `tenant`; where the indicators' begin after.
pub fn mask(off: &TenantOff, tenant: &str, matches: &mut Vec<Match>, from_rules: usize) -> usize {
    let Some(keys) = off.get(tenant).filter(|k| !k.is_empty()) else {
        return from_rules;
    };
    let mut i = 0;
    let mut kept_rules = from_rules;
    matches.retain(|m| {
        let is_rule = i < from_rules;
        i += 1;
        let off = is_rule
            && m.rule
                .id
                .as_deref()
                .or(m.rule.name.as_deref())
                .is_some_and(|k| keys.contains(k));
        if off {
            kept_rules -= 1;
        }
        !off
    });
    kept_rules
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn m(id: Option<&str>, name: Option<&str>) -> Match {
        let rule = vigie_detect::RuleMeta {
            id: id.map(str::to_string),
            name: name.map(str::to_string),
            title: "t".into(),
            kind: vigie_detect::RuleKind::Detection,
            level: None,
            status: None,
            description: None,
            author: None,
            tags: Vec::new(),
            references: Vec::new(),
            falsepositives: Vec::new(),
            logsource: Default::default(),
            path: "r.yml".into(),
        };
        Match {
            rule: Arc::new(rule),
            matched: Vec::new(),
            correlation_values: Vec::new(),
            generate: true,
        }
    }

    #[test]
    fn a_tenants_rules_are_left_out_of_its_events_only_and_indicators_stay() {
        let off: TenantOff = [(
            "mairie-b".to_string(),
            ["r1".to_string(), "by-name".to_string()]
                .into_iter()
                .collect(),
        )]
        .into_iter()
        .collect();
        let all = || {
            vec![
                m(Some("r1"), None),
                m(Some("r2"), None),
                m(None, Some("by-name")),
                // An indicator's match named like a rule: not a rule's.
                m(Some("r1"), None),
            ]
        };
        let mut got = all();
        assert_eq!(mask(&off, "mairie-b", &mut got, 3), 1);
        let ids: Vec<_> = got.iter().map(|m| m.rule.id.as_deref()).collect();
        assert_eq!(ids, [Some("r2"), Some("r1")], "r2 and the indicator stay");
        let mut theirs = all();
        assert_eq!(mask(&off, "default", &mut theirs, 3), 3);
        assert_eq!(theirs.len(), 4, "another tenant's events: untouched");
    }
}
