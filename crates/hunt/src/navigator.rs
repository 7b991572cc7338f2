//! The hunt as an ATT&CK Navigator layer (layer format 4.5,
//! `enterprise-attack`): the techniques named by the tags of the rules
//! that fired, scored by their number of detections, each commented with
//! the rules behind it, so a CSIRT can lay the incident over its own
//! coverage or threat layers.
//!
//! Technique ids come from Sigma's ATT&CK tags (`attack.t1059.001` →
//! `T1059.001`); tactic tags are not used to place techniques (a layer
//! technique without `tactic` shows under every tactic it belongs to, which
//! is what a rule tagged with several tactics means).

use std::collections::BTreeMap;

use serde::Serialize;
use vigie_detect::Level;
use vigie_lang::{glossary, tr, Lang};

use crate::timeline::{level_name, Detection};

/// The layer format version written.
pub const LAYER_VERSION: &str = "4.5";
/// The Navigator version the layer declares (4.5 layers need ≥ 4.9.0).
pub const NAVIGATOR_VERSION: &str = "4.9.1";

/// At most this many rules named in a technique's comment.
const RULES_IN_COMMENT: usize = 10;

#[derive(Debug, Serialize)]
pub struct Layer {
    pub name: String,
    pub versions: Versions,
    pub domain: &'static str,
    pub description: String,
    /// 3: techniques sorted by descending score.
    pub sorting: u8,
    pub layout: Layout,
    #[serde(rename = "hideDisabled")]
    pub hide_disabled: bool,
    pub techniques: Vec<Technique>,
    pub gradient: Gradient,
    pub metadata: Vec<Metadata>,
}

#[derive(Debug, Serialize)]
pub struct Versions {
    pub navigator: &'static str,
    pub layer: &'static str,
}

#[derive(Debug, Serialize)]
pub struct Layout {
    pub layout: &'static str,
    #[serde(rename = "showID")]
    pub show_id: bool,
    #[serde(rename = "showName")]
    pub show_name: bool,
    #[serde(rename = "expandedSubtechniques")]
    pub expanded_subtechniques: &'static str,
}

#[derive(Debug, Serialize)]
pub struct Technique {
    #[serde(rename = "techniqueID")]
    pub technique_id: String,
    pub score: u64,
    pub comment: String,
    pub enabled: bool,
    pub metadata: Vec<Metadata>,
    #[serde(rename = "showSubtechniques")]
    pub show_subtechniques: bool,
}

#[derive(Debug, Serialize)]
pub struct Gradient {
    pub colors: [&'static str; 2],
    #[serde(rename = "minValue")]
    pub min_value: u64,
    #[serde(rename = "maxValue")]
    pub max_value: u64,
}

#[derive(Debug, Serialize)]
pub struct Metadata {
    pub name: String,
    pub value: String,
}

/// `T1059.001` from a Sigma tag `attack.t1059.001` (any case); `None` for
/// other tags (tactics, groups, software, CAR…).
pub fn technique_id(tag: &str) -> Option<String> {
    let rest = tag
        .strip_prefix("attack.")
        .or_else(|| tag.strip_prefix("ATTACK."))?;
    let rest = rest.strip_prefix('t').or_else(|| rest.strip_prefix('T'))?;
    let (main, sub) = match rest.split_once('.') {
        Some((m, s)) => (m, Some(s)),
        None => (rest, None),
    };
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(main, 4) || sub.is_some_and(|s| !digits(s, 3)) {
        return None;
    }
    Some(match sub {
        Some(s) => format!("T{main}.{s}"),
        None => format!("T{main}"),
    })
}

#[derive(Default)]
struct Tally {
    count: u64,
    highest: Option<Level>,
    rules: BTreeMap<String, u64>,
}

/// The layer of `detections`.
pub fn layer(detections: &[Detection], title: &str, lang: Lang) -> Layer {
    let mut by_technique: BTreeMap<String, Tally> = BTreeMap::new();
    for d in detections {
        let mut ids: Vec<String> = d.rule.tags.iter().filter_map(|t| technique_id(t)).collect();
        ids.sort();
        ids.dedup();
        for id in ids {
            let t = by_technique.entry(id).or_default();
            t.count += 1;
            t.highest = t.highest.max(Some(d.level()));
            *t.rules.entry(d.rule.title.clone()).or_default() += 1;
        }
    }
    let max = by_technique.values().map(|t| t.count).max().unwrap_or(0);
    let techniques = by_technique
        .into_iter()
        .map(|(id, t)| {
            let level = glossary::term(lang, level_name(t.highest.unwrap_or(Level::Informational)));
            let mut rules: Vec<(String, u64)> = t.rules.into_iter().collect();
            rules.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            let more = rules.len().saturating_sub(RULES_IN_COMMENT);
            let named: Vec<String> = rules
                .iter()
                .take(RULES_IN_COMMENT)
                .map(|(r, n)| format!("{r} ({n})"))
                .collect();
            let mut comment = tr!(
                lang,
                "{} (niveau le plus haut : {}) : {}",
                "{} (highest level: {}): {}",
                lang.pick(
                    lang.count(t.count, "détection", "détections"),
                    lang.count(t.count, "detection", "detections")
                ),
                level,
                named.join("; ")
            );
            if more > 0 {
                comment.push_str(&tr!(
                    lang,
                    " ; et {} autre(s) règle(s)",
                    "; and {} more rule(s)",
                    more
                ));
            }
            Technique {
                technique_id: id,
                score: t.count,
                comment,
                enabled: true,
                metadata: vec![
                    Metadata {
                        name: lang.pick("détections", "detections").into(),
                        value: t.count.to_string(),
                    },
                    Metadata {
                        name: lang.pick("niveau le plus haut", "highest level").into(),
                        value: level.to_string(),
                    },
                ],
                show_subtechniques: false,
            }
        })
        .collect();
    Layer {
        name: title.to_string(),
        versions: Versions {
            navigator: NAVIGATOR_VERSION,
            layer: LAYER_VERSION,
        },
        domain: "enterprise-attack",
        description: lang
            .pick(
                "Techniques ATT&CK des règles Sigma déclenchées par la recherche Vigie ; score = nombre de détections.",
                "ATT&CK techniques of the Sigma rules that fired in the Vigie hunt; score = number of detections.",
            )
            .to_string(),
        sorting: 3,
        layout: Layout {
            layout: "side",
            show_id: true,
            show_name: true,
            expanded_subtechniques: "annotated",
        },
        hide_disabled: false,
        techniques,
        gradient: Gradient {
            colors: ["#ffe766", "#ff6666"],
            min_value: 0,
            max_value: max.max(1),
        },
        metadata: vec![Metadata {
            name: lang.pick("produit par", "generated by").into(),
            value: format!("Vigie {}", env!("CARGO_PKG_VERSION")),
        }],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn technique_ids_from_sigma_tags() {
        assert_eq!(
            technique_id("attack.t1059.001").as_deref(),
            Some("T1059.001")
        );
        assert_eq!(technique_id("attack.T1003").as_deref(), Some("T1003"));
        assert_eq!(technique_id("attack.execution"), None);
        assert_eq!(technique_id("attack.g0016"), None);
        assert_eq!(technique_id("attack.t105"), None);
        assert_eq!(technique_id("attack.t1059.1"), None);
        assert_eq!(technique_id("car.2013-05-002"), None);
    }
}
