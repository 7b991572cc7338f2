//! Shared by the differential test and the engine benchmark (included by
//! path from `benches/engine.rs`): the files of a rule set, and a Vigie
//! event as the flat JSON object rsigma-eval reads.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use vigie_event::{Event, Value};

/// Files under `dir` whose extension is one of `ext`, recursively, sorted.
pub fn files(dir: &Path, ext: &[&str], out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = rd.flatten().map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            files(&p, ext, out);
        } else if p
            .extension()
            .and_then(|x| x.to_str())
            .is_some_and(|x| ext.contains(&x))
        {
            out.push(p);
        }
    }
}

/// The flat JSON object rsigma-eval reads for a Vigie event. A repeated
/// field name keeps its last value, as `Event::get` does (event data
/// shadows a System field of the same name).
pub fn to_json(e: &Event) -> serde_json::Value {
    fn conv(v: &Value) -> serde_json::Value {
        match v {
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Int(i) => serde_json::Value::from(*i),
            Value::Float(f) => serde_json::Number::from_f64(*f)
                .map(serde_json::Value::Number)
                .unwrap_or(serde_json::Value::Null),
            Value::Str(s) => serde_json::Value::String(s.to_string()),
            Value::List(l) => serde_json::Value::Array(l.iter().map(conv).collect()),
        }
    }
    let mut m = serde_json::Map::new();
    for (k, v) in &e.fields {
        m.insert(k.to_string(), conv(v));
    }
    serde_json::Value::Object(m)
}
