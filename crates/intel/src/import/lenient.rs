//! Typed, borrowed and forgiving pieces of JSON for the STIX and MISP
//! readers.
//!
//! Why: a 10 MB bundle read as a `serde_json::Value` tree is a million
//! small allocations made and freed for a few fields per object (a third
//! of `hunt --ioc`'s fixed cost was the allocator). These types read only
//! the fields the readers use, borrow strings from the document when they
//! hold no escape, and skip the rest without building it.
//!
//! Why forgiving: a feed's object with a field of an unexpected type (a
//! `confidence` written as a string, a `Tag` that is not a list) must
//! not cost the whole document, as it did not with the tree (where such
//! a field simply read as absent). Each type here reads what it expects
//! and takes anything else as absent; only malformed JSON is an error.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

/// Visitor methods that take any value other than the one expected as
/// absent (`Default`): scalars dropped, arrays and objects skipped.
macro_rules! absent_otherwise {
    ($($skip:ident),*) => {
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Ok(Default::default())
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Ok(Default::default())
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Ok(Default::default())
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Ok(Default::default())
        }
        fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
            Ok(Default::default())
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(Default::default())
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(Default::default())
        }
        $(absent_otherwise!(@ $skip);)*
    };
    (@ seq) => {
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok(Default::default())
        }
    };
    (@ map) => {
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            Ok(Default::default())
        }
    };
}

/// A string (borrowed when it holds no escape), else absent.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Str<'a>(pub Option<Cow<'a, str>>);

impl<'a> Str<'a> {
    pub fn get(&self) -> Option<&str> {
        self.0.as_deref()
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Str<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Str<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Str<'a>, E> {
                Ok(Str(Some(Cow::Borrowed(s))))
            }
            fn visit_string<E: de::Error>(self, s: String) -> Result<Str<'a>, E> {
                Ok(Str(Some(Cow::Owned(s))))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Str<'a>, E> {
                Ok(Str(None))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Str<'a>, E> {
                Ok(Str(None))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Str<'a>, E> {
                Ok(Str(None))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Str<'a>, E> {
                Ok(Str(None))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Str<'a>, E> {
                Ok(Str(Some(Cow::Owned(s.to_string()))))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Str<'a>, E> {
                Ok(Str(None))
            }
            fn visit_none<E: de::Error>(self) -> Result<Str<'a>, E> {
                Ok(Str(None))
            }
            absent_otherwise!(@ seq);
            absent_otherwise!(@ map);
        }
        d.deserialize_any(V(PhantomData))
    }
}

/// A string, or a number as JSON writes it (a MISP attribute's `value`),
/// else absent.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Text<'a>(pub Option<Cow<'a, str>>);

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Text<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Text<'a>, E> {
                Ok(Text(Some(Cow::Borrowed(s))))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Text<'a>, E> {
                Ok(Text(Some(Cow::Owned(s.to_string()))))
            }
            fn visit_string<E: de::Error>(self, s: String) -> Result<Text<'a>, E> {
                Ok(Text(Some(Cow::Owned(s))))
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<Text<'a>, E> {
                Ok(Text(Some(Cow::Owned(
                    serde_json::Number::from(n).to_string(),
                ))))
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<Text<'a>, E> {
                Ok(Text(Some(Cow::Owned(
                    serde_json::Number::from(n).to_string(),
                ))))
            }
            fn visit_f64<E: de::Error>(self, n: f64) -> Result<Text<'a>, E> {
                Ok(Text(
                    serde_json::Number::from_f64(n).map(|n| Cow::Owned(n.to_string())),
                ))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Text<'a>, E> {
                Ok(Text(None))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Text<'a>, E> {
                Ok(Text(None))
            }
            fn visit_none<E: de::Error>(self) -> Result<Text<'a>, E> {
                Ok(Text(None))
            }
            absent_otherwise!(@ seq);
            absent_otherwise!(@ map);
        }
        d.deserialize_any(V(PhantomData))
    }
}

/// A JSON boolean, else absent.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct Bool(pub Option<bool>);

impl<'de> Deserialize<'de> for Bool {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Bool;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_bool<E: de::Error>(self, b: bool) -> Result<Bool, E> {
                Ok(Bool(Some(b)))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Bool, E> {
                Ok(Bool(None))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Bool, E> {
                Ok(Bool(None))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Bool, E> {
                Ok(Bool(None))
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Bool, E> {
                Ok(Bool(None))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Bool, E> {
                Ok(Bool(None))
            }
            fn visit_none<E: de::Error>(self) -> Result<Bool, E> {
                Ok(Bool(None))
            }
            absent_otherwise!(@ seq);
            absent_otherwise!(@ map);
        }
        d.deserialize_any(V)
    }
}

/// A MISP flag: `true`, `1`, `"1"`, `"true"` (any case); anything else
/// is off.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct Flag(pub bool);

impl<'de> Deserialize<'de> for Flag {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Flag;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_bool<E: de::Error>(self, b: bool) -> Result<Flag, E> {
                Ok(Flag(b))
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<Flag, E> {
                Ok(Flag(n == 1))
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<Flag, E> {
                Ok(Flag(n == 1))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Flag, E> {
                Ok(Flag(false))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Flag, E> {
                Ok(Flag(s == "1" || s.eq_ignore_ascii_case("true")))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Flag, E> {
                Ok(Flag(false))
            }
            fn visit_none<E: de::Error>(self) -> Result<Flag, E> {
                Ok(Flag(false))
            }
            absent_otherwise!(@ seq);
            absent_otherwise!(@ map);
        }
        d.deserialize_any(V)
    }
}

/// A non-negative integer, else absent (as `Value::as_u64`).
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct UInt(pub Option<u64>);

impl<'de> Deserialize<'de> for UInt {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = UInt;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<UInt, E> {
                Ok(UInt(Some(n)))
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<UInt, E> {
                Ok(UInt(u64::try_from(n).ok()))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<UInt, E> {
                Ok(UInt(None))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<UInt, E> {
                Ok(UInt(None))
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<UInt, E> {
                Ok(UInt(None))
            }
            fn visit_unit<E: de::Error>(self) -> Result<UInt, E> {
                Ok(UInt(None))
            }
            fn visit_none<E: de::Error>(self) -> Result<UInt, E> {
                Ok(UInt(None))
            }
            absent_otherwise!(@ seq);
            absent_otherwise!(@ map);
        }
        d.deserialize_any(V)
    }
}

/// The elements of an array, else none. Elements are read as `T` (itself
/// forgiving: `Str`, `Obj<…>`, `&RawValue`).
#[derive(Debug, Clone, PartialEq)]
pub struct List<T>(pub Vec<T>);

impl<T> Default for List<T> {
    fn default() -> Self {
        List(Vec::new())
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for List<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = List<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<List<T>, A::Error> {
                // No size hint is trusted beyond a bound: the document's
                // own length already bounds the elements.
                let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
                while let Some(x) = seq.next_element::<T>()? {
                    out.push(x);
                }
                Ok(List(out))
            }
            absent_otherwise!(map);
        }
        d.deserialize_any(V(PhantomData))
    }
}

/// An object read as `T` (a struct of forgiving fields), else absent.
#[derive(Debug, Clone, PartialEq)]
pub struct Obj<T>(pub Option<T>);

impl<T> Default for Obj<T> {
    fn default() -> Self {
        Obj(None)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Obj<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = Obj<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Obj<T>, A::Error> {
                T::deserialize(de::value::MapAccessDeserializer::new(map)).map(|t| Obj(Some(t)))
            }
            absent_otherwise!(seq);
        }
        d.deserialize_any(V(PhantomData))
    }
}

/// The values of an object, each read as `T`, keys dropped (the STIX
/// `extensions` of a marking, keyed by extension id); else none.
#[derive(Debug, Clone, PartialEq)]
pub struct Values<T>(pub Vec<T>);

impl<T> Default for Values<T> {
    fn default() -> Self {
        Values(Vec::new())
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Values<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = Values<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Values<T>, A::Error> {
                let mut out = Vec::new();
                while let Some((_, v)) = map.next_entry::<IgnoredAny, T>()? {
                    out.push(v);
                }
                Ok(Values(out))
            }
            absent_otherwise!(seq);
        }
        d.deserialize_any(V(PhantomData))
    }
}

/// The elements of an array kept as their JSON text, to be read later
/// (side by side, and each on its own: one malformed element is that
/// element's problem, not the document's). `None` when not an array.
#[derive(Debug, Default)]
pub struct RawList<'a>(pub Option<Vec<&'a RawValue>>);

impl<'de: 'a, 'a> Deserialize<'de> for RawList<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = RawList<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawList<'a>, A::Error> {
                let mut out = Vec::new();
                while let Some(x) = seq.next_element::<&'de RawValue>()? {
                    out.push(x);
                }
                Ok(RawList(Some(out)))
            }
            absent_otherwise!(map);
        }
        d.deserialize_any(V(PhantomData))
    }
}

/// Reads `T` from the JSON text of one element.
pub fn parse<'a, T: Deserialize<'a>>(raw: &'a RawValue) -> Result<T, serde_json::Error> {
    serde_json::from_str(raw.get())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Default, Debug)]
    #[serde(default)]
    struct T<'a> {
        #[serde(borrow)]
        s: Str<'a>,
        n: UInt,
        b: Bool,
        f: Flag,
        #[serde(borrow)]
        l: List<Str<'a>>,
        #[serde(borrow)]
        o: Obj<Box<T<'a>>>,
        #[serde(borrow)]
        v: Text<'a>,
    }

    #[test]
    fn unexpected_types_read_as_absent_never_as_errors() {
        let t: T = serde_json::from_str(
            r#"{"s": 3, "n": "x", "b": [1, {"a": 2}], "f": "TRUE", "l": {"x": 1},
                "o": [1], "v": 1.5, "other": {"deep": [1, 2, {"x": null}]}}"#,
        )
        .unwrap();
        assert_eq!(t.s.get(), None);
        assert_eq!(t.n.0, None);
        assert_eq!(t.b.0, None);
        assert!(t.f.0);
        assert!(t.l.0.is_empty());
        assert!(t.o.0.is_none());
        assert_eq!(t.v.0.as_deref(), Some("1.5"));
        let t: T = serde_json::from_str(
            r#"{"s": "a\"b", "n": 7, "b": true, "f": 1, "l": ["x", 2, "y"], "o": {"s": "in"}, "v": "w"}"#,
        )
        .unwrap();
        assert_eq!(t.s.get(), Some("a\"b"));
        assert_eq!(t.n.0, Some(7));
        assert_eq!(t.b.0, Some(true));
        assert!(t.f.0);
        let l: Vec<Option<&str>> = t.l.0.iter().map(Str::get).collect();
        assert_eq!(l, [Some("x"), None, Some("y")]);
        assert_eq!(t.o.0.unwrap().s.get(), Some("in"));
        assert_eq!(t.v.0.as_deref(), Some("w"));
        // Malformed JSON stays an error.
        assert!(serde_json::from_str::<T>(r#"{"s": "x",}"#).is_err());
    }

    #[test]
    fn strings_without_escapes_are_borrowed() {
        let t: T = serde_json::from_str(r#"{"s": "plain"}"#).unwrap();
        assert!(matches!(t.s.0, Some(Cow::Borrowed("plain"))));
    }
}
