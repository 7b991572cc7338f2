//! ATT&CK Navigator layers (layer format 4.5, `enterprise-attack`): the
//! one layer model of Vigie, for the hunt's detections (`vigie hunt
//! --navigator`) and for an incident's scope (`vigie export navigator`).
//!
//! Techniques are scored by their number of detections and commented
//! with the rules behind them, so a CSIRT can lay an incident over its own
//! coverage or threat layers. Technique ids come from Sigma's ATT&CK tags
//! (`attack.t1059.001` → `T1059.001`); tactic tags do not place techniques
//! (a layer technique without `tactic` shows under every tactic it belongs
//! to, which is what a rule tagged with several tactics means).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use vigie_detect::Level;
use vigie_lang::{glossary, tr, Lang};

/// The layer format version written.
pub const LAYER_VERSION: &str = "4.5";
/// The Navigator version the layer declares (4.5 layers need ≥ 4.9.0).
pub const NAVIGATOR_VERSION: &str = "4.9.1";

/// At most this many rules named in a technique's comment.
const RULES_IN_COMMENT: usize = 10;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Layer {
    pub name: String,
    pub versions: Versions,
    pub domain: String,
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

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Versions {
    pub navigator: String,
    pub layer: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Layout {
    pub layout: String,
    #[serde(rename = "showID")]
    pub show_id: bool,
    #[serde(rename = "showName")]
    pub show_name: bool,
    #[serde(rename = "expandedSubtechniques")]
    pub expanded_subtechniques: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
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

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Gradient {
    pub colors: [String; 2],
    #[serde(rename = "minValue")]
    pub min_value: u64,
    #[serde(rename = "maxValue")]
    pub max_value: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
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

/// The glossary key of a level.
pub fn level_key(l: Level) -> &'static str {
    match l {
        Level::Informational => "informational",
        Level::Low => "low",
        Level::Medium => "medium",
        Level::High => "high",
        Level::Critical => "critical",
    }
}

#[derive(Default)]
struct Tally {
    count: u64,
    highest: Option<Level>,
    rules: BTreeMap<String, u64>,
}

/// Gathers detections by technique, then builds the layer.
#[derive(Default)]
pub struct LayerBuilder {
    by_technique: BTreeMap<String, Tally>,
}

impl LayerBuilder {
    pub fn new() -> LayerBuilder {
        LayerBuilder::default()
    }

    /// `count` detections of the rule `title`, at `level`, tagged `tags`.
    pub fn add<S: AsRef<str>>(&mut self, tags: &[S], title: &str, level: Level, count: u64) {
        if count == 0 {
            return;
        }
        let mut ids: Vec<String> = tags
            .iter()
            .filter_map(|t| technique_id(t.as_ref()))
            .collect();
        ids.sort();
        ids.dedup();
        for id in ids {
            let t = self.by_technique.entry(id).or_default();
            t.count += count;
            t.highest = t.highest.max(Some(level));
            *t.rules.entry(title.to_string()).or_default() += count;
        }
    }

    /// Whether no technique was added.
    pub fn is_empty(&self) -> bool {
        self.by_technique.is_empty()
    }

    /// The layer, named `name`, described by `description`, its words in
    /// `lang`.
    pub fn build(self, name: &str, description: &str, lang: Lang) -> Layer {
        let max = self
            .by_technique
            .values()
            .map(|t| t.count)
            .max()
            .unwrap_or(0);
        let techniques = self
            .by_technique
            .into_iter()
            .map(|(id, t)| technique(id, t, lang))
            .collect();
        Layer {
            name: name.to_string(),
            versions: Versions {
                navigator: NAVIGATOR_VERSION.into(),
                layer: LAYER_VERSION.into(),
            },
            domain: "enterprise-attack".into(),
            description: description.to_string(),
            sorting: 3,
            layout: Layout {
                layout: "side".into(),
                show_id: true,
                show_name: true,
                expanded_subtechniques: "annotated".into(),
            },
            hide_disabled: false,
            techniques,
            gradient: Gradient {
                colors: ["#ffe766".into(), "#ff6666".into()],
                min_value: 0,
                max_value: max.max(1),
            },
            metadata: vec![Metadata {
                name: lang.pick("produit par", "generated by").into(),
                value: format!("Vigie {}", env!("CARGO_PKG_VERSION")),
            }],
        }
    }
}

fn technique(id: String, t: Tally, lang: Lang) -> Technique {
    let level = glossary::term(lang, level_key(t.highest.unwrap_or(Level::Informational)));
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

    #[test]
    fn layer_scores_techniques_by_detections() {
        let mut b = LayerBuilder::new();
        b.add(
            &["attack.t1021.001", "attack.lateral-movement"],
            "RDP",
            Level::High,
            3,
        );
        b.add(&["attack.t1021.001"], "Other", Level::Medium, 1);
        b.add(&["attack.t1003.001"], "Dump", Level::Critical, 2);
        b.add(&["attack.t1003.001"], "Nothing", Level::Critical, 0);
        let l = b.build("INC-1", "d", Lang::En);
        assert_eq!(l.techniques.len(), 2);
        let rdp = l
            .techniques
            .iter()
            .find(|t| t.technique_id == "T1021.001")
            .unwrap();
        assert_eq!(rdp.score, 4);
        assert!(
            rdp.comment.contains("RDP (3)") && rdp.comment.contains("Other (1)"),
            "{}",
            rdp.comment
        );
        assert_eq!(l.gradient.max_value, 4);
        let json = serde_json::to_value(&l).unwrap();
        assert_eq!(json["versions"]["layer"], "4.5");
        assert_eq!(json["techniques"][0]["techniqueID"], "T1003.001");
    }
}
