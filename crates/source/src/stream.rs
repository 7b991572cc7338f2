//! Streaming flattening of evtx_dump-layout JSON straight into an
//! [`Event`], without building a `serde_json::Value` tree first.
//!
//! It follows exactly the rules of [`crate::flatten::flatten_windows`]
//! (the tests in `evtx` check both give the same events); it exists
//! because it is faster: see the measurement in [`crate::evtx`].

use std::borrow::Cow;
use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use vigie_event::{Event, FieldName, Value};

use crate::flatten::{name, name2};

/// Implements the scalar `visit_*` methods of a visitor: each converts
/// the scalar to a [`Value`] `v` and evaluates the given expression.
macro_rules! scalar_visits {
    (|$s:ident, $v:ident| $body:expr) => {
        fn visit_unit<E>($s) -> Result<Self::Value, E> {
            let $v = Value::Null;
            Ok($body)
        }
        fn visit_bool<E>($s, b: bool) -> Result<Self::Value, E> {
            let $v = Value::Bool(b);
            Ok($body)
        }
        fn visit_i64<E>($s, i: i64) -> Result<Self::Value, E> {
            let $v = Value::Int(i);
            Ok($body)
        }
        fn visit_u64<E>($s, u: u64) -> Result<Self::Value, E> {
            let $v = match i64::try_from(u) {
                Ok(i) => Value::Int(i),
                Err(_) => Value::Str(u.to_string().into()),
            };
            Ok($body)
        }
        fn visit_f64<E>($s, x: f64) -> Result<Self::Value, E> {
            let $v = Value::Float(x);
            Ok($body)
        }
        fn visit_str<E>($s, x: &str) -> Result<Self::Value, E> {
            let $v = Value::Str(x.into());
            Ok($body)
        }
    };
}

/// Flattens one evtx_dump JSON document (`{"Event": {...}}`) into `ev`
/// and fills its envelope.
///
/// `names` remembers the field names of the previous record: records of
/// one chunk mostly share templates, so the name at each position is
/// usually the same and is reused after one string comparison, without
/// hashing (interning was 7% of the conversion time before).
pub fn flatten_json_bytes(
    bytes: &[u8],
    ev: &mut Event,
    names: &mut NameCache,
) -> Result<(), serde_json::Error> {
    let mut cx = Cx {
        ev: std::mem::replace(ev, Event::new(ev.origin.clone())),
        names: std::mem::take(names),
    };
    // Records mostly share their layout: room for as many fields as the
    // previous record had (`pos` is still its count), reserved once rather
    // than grown by doubling for every record (a visible share of reading
    // an event). Capped: one hostile record of 50,000 keys must not make
    // every later event reserve as much.
    let hint = cx.names.pos.min(FIELDS_RESERVED_MAX);
    cx.names.pos = 0;
    cx.ev.fields.reserve(hint);
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let res = Root(&mut cx).deserialize(&mut de).and_then(|()| de.end());
    *ev = cx.ev;
    *names = cx.names;
    res?;
    crate::flatten::envelope_from_fields(ev);
    Ok(())
}

/// Fields reserved ahead for an event, at most (Windows events have tens;
/// a larger one grows as it is read).
const FIELDS_RESERVED_MAX: usize = 256;

/// Field names by position in the previous record (see
/// [`flatten_json_bytes`]).
#[derive(Default)]
pub struct NameCache {
    slots: Vec<FieldName>,
    pos: usize,
}

impl NameCache {
    #[inline]
    fn slot(
        &mut self,
        matches: impl Fn(&str) -> bool,
        make: impl FnOnce() -> FieldName,
    ) -> FieldName {
        let p = self.pos;
        self.pos += 1;
        if let Some(n) = self.slots.get(p) {
            if matches(n) {
                return n.clone();
            }
        }
        let n = make();
        if p < self.slots.len() {
            self.slots[p] = n.clone();
        } else {
            self.slots.push(n.clone());
        }
        n
    }
}

/// What the visitors write into: the event and the name cache.
struct Cx {
    ev: Event,
    names: NameCache,
}

impl Cx {
    #[inline]
    fn push(&mut self, k: &str, v: Value) {
        let n = self.names.slot(|n| n == k, || name(k));
        self.ev.fields.push((n, v));
    }

    #[inline]
    fn push2(&mut self, elem: &str, attr: &str, v: Value) {
        let n = self.names.slot(
            |n| {
                n.len() == elem.len() + 1 + attr.len()
                    && n.starts_with(elem)
                    && n.as_bytes()[elem.len()] == b'_'
                    && n.ends_with(attr)
            },
            || name2(elem, attr),
        );
        self.ev.fields.push((n, v));
    }
}

/// A map key, borrowed from the input when it has no escapes.
struct Key<'de>(Cow<'de, str>);

impl<'de> serde::Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KV;
        impl<'de> Visitor<'de> for KV {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string key")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_string())))
            }
            fn visit_string<E>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        d.deserialize_str(KV)
    }
}

/// `{"Event": {...}}`.
struct Root<'e>(&'e mut Cx);

impl<'de> DeserializeSeed<'de> for Root<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Root<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an event object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<(), A::Error> {
        while let Some(k) = m.next_key::<Key>()? {
            match &*k.0 {
                "Event" => m.next_value_seed(Sections(self.0))?,
                // As `flatten::json_to_event`: beside `Event`, top-level
                // keys (a tool's annotations) are not event data.
                _ => {
                    m.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

/// The children of `Event`: `System`, `EventData`, `UserData`, ….
struct Sections<'e>(&'e mut Cx);

impl<'de> DeserializeSeed<'de> for Sections<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Sections<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("the Event object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<(), A::Error> {
        while let Some(k) = m.next_key::<Key>()? {
            section(&k.0, &mut m, self.0)?;
        }
        Ok(())
    }
}

fn section<'de, A: MapAccess<'de>>(k: &str, m: &mut A, ev: &mut Cx) -> Result<(), A::Error> {
    match k {
        "#attributes" => {
            m.next_value::<IgnoredAny>()?;
        }
        "System" => m.next_value_seed(System(ev))?,
        "EventData" => m.next_value_seed(EventData(ev))?,
        _ => m.next_value_seed(Leaf { name: k, ev })?,
    }
    Ok(())
}

/// `System`: scalars by name, element attributes as `<Element>_<Attr>`.
struct System<'e>(&'e mut Cx);

impl<'de> DeserializeSeed<'de> for System<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for System<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("the System object")
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<(), A::Error> {
        while let Some(k) = m.next_key::<Key>()? {
            m.next_value_seed(SysElem {
                name: &k.0,
                ev: self.0,
            })?;
        }
        Ok(())
    }
}

struct SysElem<'a, 'e> {
    name: &'a str,
    ev: &'e mut Cx,
}

impl<'de> DeserializeSeed<'de> for SysElem<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for SysElem<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a System element")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, s: A) -> Result<(), A::Error> {
        let v = list(s)?;
        self.ev.push(self.name, v);
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<(), A::Error> {
        while let Some(k) = m.next_key::<Key>()? {
            match &*k.0 {
                "#attributes" => m.next_value_seed(SysAttrs {
                    elem: self.name,
                    ev: self.ev,
                })?,
                "#text" => {
                    let v = m.next_value_seed(Scalar)?;
                    self.ev.push(self.name, v);
                }
                _ => m.next_value_seed(Leaf {
                    name: &k.0,
                    ev: self.ev,
                })?,
            }
        }
        Ok(())
    }
    scalar_visits!(|self, v| {
        // Empty System elements (`Correlation: null`) give no field.
        if v != Value::Null {
            self.ev.push(self.name, v)
        }
    });
}

struct SysAttrs<'a, 'e> {
    elem: &'a str,
    ev: &'e mut Cx,
}

impl<'de> DeserializeSeed<'de> for SysAttrs<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for SysAttrs<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("attributes")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<(), A::Error> {
        while let Some(k) = m.next_key::<Key>()? {
            let v = m.next_value_seed(Scalar)?;
            self.ev.push2(self.elem, &k.0, v);
        }
        Ok(())
    }
}

/// `EventData`: each child by its name (unnamed `Data` stays `Data`).
struct EventData<'e>(&'e mut Cx);

impl<'de> DeserializeSeed<'de> for EventData<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for EventData<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("EventData")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<(), A::Error> {
        while let Some(k) = m.next_key::<Key>()? {
            if &*k.0 == "#attributes" {
                m.next_value::<IgnoredAny>()?;
            } else {
                m.next_value_seed(Leaf {
                    name: &k.0,
                    ev: self.0,
                })?;
            }
        }
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, s: A) -> Result<(), A::Error> {
        let v = list(s)?;
        self.0.push("Data", v);
        Ok(())
    }
    scalar_visits!(|self, v| {
        if v != Value::Null {
            self.0.push("Data", v)
        }
    });
}

/// Any value under leaf names (see `flatten::leaf`).
struct Leaf<'a, 'e> {
    name: &'a str,
    ev: &'e mut Cx,
}

impl<'de> DeserializeSeed<'de> for Leaf<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Leaf<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a value")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<(), A::Error> {
        while let Some(k) = m.next_key::<Key>()? {
            match &*k.0 {
                "#attributes" => m.next_value_seed(LeafAttrs(self.ev))?,
                "#text" => m.next_value_seed(Leaf {
                    name: self.name,
                    ev: self.ev,
                })?,
                _ => m.next_value_seed(Leaf {
                    name: &k.0,
                    ev: self.ev,
                })?,
            }
        }
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<(), A::Error> {
        // Scalars form a list; objects inside are flattened as leaves.
        let mut items = Vec::new();
        let mut had_object = false;
        while let Some(item) = s.next_element_seed(Elem {
            name: self.name,
            ev: self.ev,
        })? {
            match item {
                Some(v) => items.push(v),
                None => had_object = true,
            }
        }
        if !items.is_empty() || !had_object {
            self.ev.push(self.name, Value::List(items));
        }
        Ok(())
    }
    scalar_visits!(|self, v| self.ev.push(self.name, v));
}

/// An array element under a leaf: scalars and arrays are returned (to
/// form the list), objects are flattened into the event.
struct Elem<'a, 'e> {
    name: &'a str,
    ev: &'e mut Cx,
}

impl<'de> DeserializeSeed<'de> for Elem<'_, '_> {
    type Value = Option<Value>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Option<Value>, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Elem<'_, '_> {
    type Value = Option<Value>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array element")
    }
    fn visit_map<A: MapAccess<'de>>(self, m: A) -> Result<Option<Value>, A::Error> {
        Leaf {
            name: self.name,
            ev: self.ev,
        }
        .visit_map(m)?;
        Ok(None)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, s: A) -> Result<Option<Value>, A::Error> {
        list(s).map(Some)
    }
    scalar_visits!(|self, v| Some(v));
}

struct LeafAttrs<'e>(&'e mut Cx);

impl<'de> DeserializeSeed<'de> for LeafAttrs<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for LeafAttrs<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("attributes")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<(), A::Error> {
        while let Some(k) = m.next_key::<Key>()? {
            let v = m.next_value_seed(Scalar)?;
            if &*k.0 != "xmlns" && !k.0.starts_with("xmlns:") {
                self.0.push(&k.0, v);
            }
        }
        Ok(())
    }
}

/// Any JSON value as an event value (objects as their JSON text, as
/// `flatten::value` does).
struct Scalar;

impl<'de> DeserializeSeed<'de> for Scalar {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Scalar {
    type Value = Value;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a value")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, s: A) -> Result<Value, A::Error> {
        list(s)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Value, A::Error> {
        let mut obj = serde_json::Map::new();
        while let Some((k, v)) = m.next_entry::<String, serde_json::Value>()? {
            obj.insert(k, v);
        }
        Ok(Value::Str(
            serde_json::Value::Object(obj).to_string().into(),
        ))
    }
    scalar_visits!(|self, v| v);
}

fn list<'de, A: SeqAccess<'de>>(mut s: A) -> Result<Value, A::Error> {
    let mut items = Vec::with_capacity(s.size_hint().unwrap_or(4));
    while let Some(v) = s.next_element_seed(Scalar)? {
        items.push(v);
    }
    Ok(Value::List(items))
}
