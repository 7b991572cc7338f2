//! Reading rule YAML within bounds.
//!
//! yaml-rust2's `YamlLoader` has no limits: a 1 KB alias bomb (each
//! anchor a list of nine aliases of the previous one) expands to
//! gigabytes, and its recursive descent (and the recursive drop of the
//! tree it built) overflows the stack on a 20,000-level sequence. The
//! crate offers no depth or alias setting, but its event parser is an
//! iterative state machine: this module drives it event by event, builds
//! the same [`Yaml`] trees the loader builds, and stops a document at the
//! first limit it reaches, with a reason. The documents after it are still
//! read, so one hostile document costs one listed failure.
//!
//! The budget (values and text, alias copies included) is shared by all
//! documents of one file, so a file's trees are bounded whatever its shape.

use std::collections::HashMap;

use yaml_rust2::parser::{Event, Parser, Tag};
use yaml_rust2::scanner::{Marker, TScalarStyle};
use yaml_rust2::yaml::Hash;
use yaml_rust2::Yaml;

use crate::quote::{quote, thousands};
use crate::FailureKind;

/// The limits of one rule file's YAML.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// Nesting of lists and maps. A Sigma rule needs about six levels
    /// (`detection` → search → list → map → values); 64 leaves room for
    /// any legitimate layout and keeps every recursive walk of the tree
    /// (parsing, dropping) far from the stack's end.
    pub depth: usize,
    /// Values (scalars, lists, maps), alias copies included. SigmaHQ's
    /// largest rule (vulnerable drivers, 295 KB) has ~5,000; all of
    /// SigmaHQ concatenated into one file ~200,000.
    pub nodes: usize,
    /// Bytes of scalar text, alias copies included (twice the file size
    /// cap, so only aliases can reach it).
    pub bytes: usize,
}

pub(crate) const LIMITS: Limits = Limits {
    depth: 64,
    nodes: 1_000_000,
    bytes: 32 << 20,
};

/// Why a document was not read.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct DocProblem {
    pub kind: FailureKind,
    pub reason: String,
}

/// What the limits let through, counted across the documents of a file.
#[derive(Debug, Default)]
pub(crate) struct Budget {
    nodes: usize,
    bytes: usize,
}

/// A YAML stream read within limits.
pub(crate) struct Stream {
    /// Every document, in order: its tree, or why it was not read.
    pub docs: Vec<Result<Yaml, DocProblem>>,
    /// A syntax error that ended the stream (the text after it is not
    /// read; the caller may split the text and read each document alone).
    pub error: Option<String>,
}

/// An open list or map.
struct Frame {
    node: Yaml,
    anchor: usize,
    /// The budget spent when it opened: what it holds is the difference.
    nodes: usize,
    bytes: usize,
    /// A map's key waiting for its value.
    key: Option<Yaml>,
}

struct Builder<'l> {
    limits: &'l Limits,
    budget: &'l mut Budget,
    docs: Vec<Result<Yaml, DocProblem>>,
    stack: Vec<Frame>,
    root: Option<Yaml>,
    /// Anchored nodes of the current document: the tree, its values and
    /// its bytes (what copying it costs).
    anchors: HashMap<usize, (Yaml, usize, usize)>,
    /// The current document hit a limit or a structural error: its
    /// remaining events are skipped until its end.
    failed: Option<DocProblem>,
}

/// Reads every document of `text`.
pub(crate) fn load(text: &str, budget: &mut Budget, limits: &Limits) -> Stream {
    let mut b = Builder {
        limits,
        budget,
        docs: Vec::new(),
        stack: Vec::new(),
        root: None,
        anchors: HashMap::new(),
        failed: None,
    };
    let mut parser = Parser::new_from_str(text);
    loop {
        match parser.next_token() {
            Ok((Event::StreamEnd, _)) => break,
            Ok((ev, mark)) => b.event(ev, mark),
            Err(e) => {
                return Stream {
                    docs: b.docs,
                    error: Some(e.to_string()),
                }
            }
        }
    }
    Stream {
        docs: b.docs,
        error: None,
    }
}

impl Builder<'_> {
    fn event(&mut self, ev: Event, mark: Marker) {
        match ev {
            Event::DocumentStart => {
                self.stack.clear();
                self.root = None;
                self.anchors.clear();
                self.failed = None;
            }
            Event::DocumentEnd => {
                let doc = match self.failed.take() {
                    Some(p) => Err(p),
                    // An empty document, as `YamlLoader` gives it.
                    None => Ok(self.root.take().unwrap_or(Yaml::BadValue)),
                };
                self.docs.push(doc);
                self.stack.clear();
                self.anchors.clear();
            }
            _ if self.failed.is_some() => {}
            Event::SequenceStart(anchor, _) => self.open(Yaml::Array(Vec::new()), anchor, mark),
            Event::MappingStart(anchor, _) => self.open(Yaml::Hash(Hash::new()), anchor, mark),
            Event::SequenceEnd | Event::MappingEnd => {
                let Some(f) = self.stack.pop() else {
                    return;
                };
                let (n, b) = (self.budget.nodes - f.nodes, self.budget.bytes - f.bytes);
                self.insert(f.node, f.anchor, n, b, mark);
            }
            Event::Scalar(v, style, anchor, tag) => {
                let len = v.len();
                if let Err(p) = self.charge(1, len, false) {
                    self.failed = Some(p);
                    return;
                }
                self.insert(scalar(v, style, tag), anchor, 1, len, mark);
            }
            Event::Alias(id) => {
                let (n, b) = self.anchors.get(&id).map_or((1, 0), |a| (a.1, a.2));
                // Checked before copying: the copy is what would grow.
                if let Err(p) = self.charge(n, b, true) {
                    self.failed = Some(p);
                    return;
                }
                let node = self
                    .anchors
                    .get(&id)
                    .map_or(Yaml::BadValue, |a| a.0.clone());
                self.insert(node, 0, n, b, mark);
            }
            Event::StreamStart | Event::StreamEnd | Event::Nothing => {}
        }
    }

    fn open(&mut self, node: Yaml, anchor: usize, mark: Marker) {
        if self.stack.len() >= self.limits.depth {
            self.failed = Some(DocProblem {
                kind: FailureKind::TooDeep,
                reason: format!(
                    "YAML nested deeper than {} levels (line {})",
                    self.limits.depth,
                    mark.line()
                ),
            });
            return;
        }
        if let Err(p) = self.charge(1, 0, false) {
            self.failed = Some(p);
            return;
        }
        self.stack.push(Frame {
            node,
            anchor,
            nodes: self.budget.nodes,
            bytes: self.budget.bytes,
            key: None,
        });
    }

    /// Spends `nodes` values and `bytes` of text, or says which limit
    /// that would pass (`alias`: the spending is an alias's copy).
    fn charge(&mut self, nodes: usize, bytes: usize, alias: bool) -> Result<(), DocProblem> {
        let n = self.budget.nodes.saturating_add(nodes);
        let b = self.budget.bytes.saturating_add(bytes);
        let over = if n > self.limits.nodes {
            Some(format!("{} values", thousands(self.limits.nodes)))
        } else if b > self.limits.bytes {
            Some(format!("{} MiB of text", self.limits.bytes >> 20))
        } else {
            None
        };
        if let Some(what) = over {
            return Err(if alias {
                DocProblem {
                    kind: FailureKind::AliasExpansion,
                    reason: format!(
                        "YAML aliases expand the rule file past {what} (an alias bomb?)"
                    ),
                }
            } else {
                DocProblem {
                    kind: FailureKind::TooLarge,
                    reason: format!("the rule file holds more than {what} of YAML"),
                }
            });
        }
        self.budget.nodes = n;
        self.budget.bytes = b;
        Ok(())
    }

    /// Adds a finished node (`nodes` values and `bytes` of text) to its
    /// parent, or makes it the document's root.
    fn insert(&mut self, node: Yaml, anchor: usize, nodes: usize, bytes: usize, mark: Marker) {
        if anchor > 0 {
            // The anchor's copy is memory too: nested anchors would
            // otherwise copy a tree once per level.
            if let Err(p) = self.charge(nodes, bytes, true) {
                self.failed = Some(p);
                return;
            }
            self.anchors.insert(anchor, (node.clone(), nodes, bytes));
        }
        let Some(parent) = self.stack.last_mut() else {
            self.root = Some(node);
            return;
        };
        match &mut parent.node {
            Yaml::Array(v) => v.push(node),
            Yaml::Hash(h) => match parent.key.take() {
                None => parent.key = Some(node),
                Some(k) => {
                    // One hash operation: a replaced entry moves to the
                    // back, where the message finds its key.
                    if h.insert(k, node).is_some() {
                        let key = h.back().map_or_else(String::new, |(k, _)| key_text(k));
                        self.failed = Some(DocProblem {
                            kind: FailureKind::Yaml,
                            reason: format!(
                                "YAML error: key {key} appears twice in one map (line {})",
                                mark.line()
                            ),
                        });
                    }
                }
            },
            _ => {}
        }
    }
}

fn key_text(k: &Yaml) -> String {
    match k {
        Yaml::String(s) | Yaml::Real(s) => quote(s),
        Yaml::Integer(i) => i.to_string(),
        Yaml::Boolean(b) => b.to_string(),
        Yaml::Null => "null".into(),
        _ => "(a list or map)".into(),
    }
}

/// A scalar's value as the YAML 1.2 core schema reads it: quoted and
/// block scalars are text, plain ones may be numbers, booleans or null,
/// and a `!!` tag says which.
fn scalar(v: String, style: TScalarStyle, tag: Option<Tag>) -> Yaml {
    if style != TScalarStyle::Plain {
        return Yaml::String(v);
    }
    let Some(tag) = tag else {
        return Yaml::from_str(&v);
    };
    if tag.handle != "tag:yaml.org,2002:" {
        return Yaml::String(v);
    }
    match (tag.suffix.as_str(), Yaml::from_str(&v)) {
        ("bool", y @ Yaml::Boolean(_)) => y,
        ("int", y @ Yaml::Integer(_)) => y,
        ("float", Yaml::Real(_) | Yaml::Integer(_)) => Yaml::Real(v),
        ("null", y @ Yaml::Null) if !v.is_empty() => y,
        ("bool" | "int" | "float" | "null", _) => Yaml::BadValue,
        _ => Yaml::String(v),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use yaml_rust2::YamlLoader;

    fn read(text: &str) -> Stream {
        load(text, &mut Budget::default(), &LIMITS)
    }

    /// The trees are those `YamlLoader` builds (what the rest of the
    /// loader was written against).
    #[test]
    fn same_trees_as_yaml_loader() {
        for text in [
            "title: a\nlogsource: {product: windows}\ndetection:\n  sel:\n    - a: 1\n      b: [x, 'y', \"z\"]\n  condition: sel\n",
            "a: &x [1, 2.5, true, null, ~, 0x10, +3, '007']\nb: *x\n---\n- >\n  folded\n- |\n  literal\n",
            "---\n---\nk: !!str 12\nf: !!float 1\ni: !!int x\n",
            "",
            "just text\n",
        ] {
            let ours: Vec<Yaml> = read(text).docs.into_iter().map(|d| d.unwrap()).collect();
            let theirs = YamlLoader::load_from_str(text).unwrap();
            assert_eq!(ours, theirs, "{text}");
        }
    }

    #[test]
    fn deep_nesting_is_one_failed_document() {
        let deep = format!("{}x\n", "- ".repeat(20_000));
        let text = format!("{deep}---\ntitle: next\n");
        let s = read(&text);
        assert!(s.error.is_none(), "{:?}", s.error);
        assert_eq!(s.docs.len(), 2);
        let p = s.docs[0].as_ref().unwrap_err();
        assert_eq!(p.kind, FailureKind::TooDeep);
        assert!(p.reason.contains("deeper than 64 levels"), "{}", p.reason);
        assert!(s.docs[1].is_ok());
        // Flow nesting too (the scanner itself stops at 255 levels).
        let flow = format!("{}{}", "[".repeat(200), "]".repeat(200));
        let p = read(&flow).docs.remove(0).unwrap_err();
        assert_eq!(p.kind, FailureKind::TooDeep);
    }

    #[test]
    fn alias_bomb_stops_before_growing() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x]\n");
        for i in 1..12 {
            let p = i - 1;
            text.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        assert!(text.len() < 1024, "{}", text.len());
        let mut budget = Budget::default();
        let s = load(&text, &mut budget, &LIMITS);
        let p = s.docs[0].as_ref().unwrap_err();
        assert_eq!(p.kind, FailureKind::AliasExpansion, "{}", p.reason);
        assert!(budget.nodes <= LIMITS.nodes);
        assert!(budget.bytes <= LIMITS.bytes);
    }

    #[test]
    fn aliases_of_a_large_scalar_hit_the_text_limit() {
        let big = "y".repeat(1 << 20);
        let mut text = format!("a: &a '{big}'\nl:\n");
        for _ in 0..40 {
            text.push_str("  - *a\n");
        }
        let mut budget = Budget::default();
        let p = load(&text, &mut budget, &LIMITS)
            .docs
            .remove(0)
            .unwrap_err();
        assert_eq!(p.kind, FailureKind::AliasExpansion);
        assert!(p.reason.contains("32 MiB"), "{}", p.reason);
        assert!(budget.bytes <= LIMITS.bytes);
    }

    #[test]
    fn the_budget_is_shared_by_the_documents_of_a_file() {
        let small = Limits {
            depth: 64,
            nodes: 10,
            bytes: 1 << 20,
        };
        let text = "[a, b, c, d]\n---\n[a, b, c, d]\n---\n[a, b, c, d]\n";
        let s = load(text, &mut Budget::default(), &small);
        assert!(s.docs[0].is_ok() && s.docs[1].is_ok());
        assert_eq!(s.docs[2].as_ref().unwrap_err().kind, FailureKind::TooLarge);
    }

    #[test]
    fn duplicated_key_fails_its_document_only() {
        let s = read("a: 1\na: 2\n---\nb: 1\n");
        let p = s.docs[0].as_ref().unwrap_err();
        assert!(p.reason.contains("key 'a' appears twice"), "{}", p.reason);
        assert!(s.docs[1].is_ok());
    }

    #[test]
    fn syntax_error_ends_the_stream_with_a_reason() {
        let s = read("a: 1\n---\nb: [\n");
        assert_eq!(s.docs.len(), 1);
        assert!(s.error.is_some());
    }
}
