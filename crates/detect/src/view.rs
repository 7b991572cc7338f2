//! The per-event view that evaluation works on.
//!
//! Why: after the logsource index and the literal prefilter, a Sysmon
//! process creation still meets a dozen rules making dozens of field tests,
//! and each test used to find its field by name in the event's field list
//! and compare ASCII case-insensitively byte by byte. Once per event, the
//! view instead
//!
//! * resolves every event field name to a *slot* (one hash per field; the
//!   names rules test were numbered at compile time), so a test finds its
//!   value with an array read, and
//! * lower-cases every value once (ASCII letters only, as Sigma's
//!   case-insensitive comparison of ASCII patterns needs) into one buffer,
//!   which the literal prefilter scans and the string matchers compare
//!   with plain byte equality and prebuilt substring finders.
//!
//! Semantics are those of [`Record::field`] for [`vigie_event::Event`]: a
//! name present several times resolves to its last occurrence. A name with
//! spaces (`Threat Name`, Defender) also answers for the name without them
//! (`ThreatName`, as Sigma writes it), after any exact match of the names
//! tried (Sigma "Field Usage").

use std::sync::Arc;

use vigie_event::{Record, Value};

use crate::prefilter::FastMap;
use crate::value::with_text;

/// No slot: the name is tested by no rule.
pub(crate) const NONE: u32 = u32::MAX;

/// The field names rules test, numbered (built at compile time).
#[derive(Default)]
pub(crate) struct Slots {
    map: FastMap<Arc<str>, u32>,
}

impl Slots {
    /// The slot of `name`, numbering it if new.
    pub fn intern(&mut self, name: &Arc<str>) -> u32 {
        let n = self.map.len() as u32;
        *self.map.entry(name.clone()).or_insert(n)
    }

    #[inline]
    pub fn get(&self, name: &str) -> u32 {
        self.map.get(name).copied().unwrap_or(NONE)
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }
}

/// Lookup names of one rule field with their slots: tried in order, the
/// first present wins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Names {
    pub names: Box<[Arc<str>]>,
    pub slots: Box<[u32]>,
}

impl std::ops::Deref for Names {
    type Target = [Arc<str>];
    fn deref(&self) -> &[Arc<str>] {
        &self.names
    }
}

/// Reusable buffers of the view (one set per thread): no allocation per
/// event once warm.
#[derive(Default)]
pub(crate) struct Scratch {
    lower: Vec<u8>,
    /// Per field position: its range in `lower`.
    seg: Vec<(u32, u32)>,
    /// Per field position: (exact slot, slot of the name without spaces).
    pos_slots: Vec<(u32, u32)>,
    /// Per slot: (generation, position) of its exact name / spaceless name.
    direct: Vec<(u32, u32)>,
    spaced: Vec<(u32, u32)>,
    gen: u32,
}

/// Reuses the allocation of an empty vector for another element lifetime
/// (the in-place `collect` keeps the buffer; no element is ever mapped).
fn recycle<'a, 'b>(mut v: Vec<&'a Value>) -> Vec<&'b Value> {
    v.clear();
    v.into_iter()
        .map(|_| -> &'b Value { unreachable!() })
        .collect()
}

/// One event as evaluation sees it.
pub(crate) struct View<'a, R: Record + ?Sized> {
    pub rec: &'a R,
    /// Field values in source order.
    pub vals: Vec<&'a Value>,
    lower: &'a [u8],
    seg: &'a [(u32, u32)],
    pos_slots: &'a [(u32, u32)],
    direct: &'a [(u32, u32)],
    spaced: &'a [(u32, u32)],
    gen: u32,
    any_spaced: bool,
}

impl<'a, R: Record + ?Sized> View<'a, R> {
    /// Builds the view of `rec` in `s` (see the module documentation).
    pub fn build(rec: &'a R, slots: &Slots, s: &'a mut Scratch) -> View<'a, R> {
        s.gen = s.gen.wrapping_add(1);
        if s.gen == 0 || s.direct.len() < slots.len() {
            // First use, a larger rule set, or generation wrap-around:
            // start from clean stamps.
            s.direct.clear();
            s.spaced.clear();
            s.direct.resize(slots.len(), (0, 0));
            s.spaced.resize(slots.len(), (0, 0));
            s.gen = 1;
        }
        let gen = s.gen;
        s.lower.clear();
        s.seg.clear();
        s.pos_slots.clear();
        let mut vals: Vec<&'a Value> = recycle(VALS.with(|c| std::mem::take(&mut *c.borrow_mut())));
        let mut any_spaced = false;
        for (pos, (name, v)) in rec.fields().enumerate() {
            vals.push(v);
            let start = s.lower.len() as u32;
            append_lower(v, &mut s.lower);
            s.seg.push((start, s.lower.len() as u32));
            // Separator: the keyword scan runs over the whole buffer.
            s.lower.push(0);
            let d = slots.get(name);
            if d != NONE {
                s.direct[d as usize] = (gen, pos as u32);
            }
            let mut sp = NONE;
            if name.as_bytes().contains(&b' ') {
                any_spaced = true;
                let stripped: String = name.chars().filter(|c| *c != ' ').collect();
                sp = slots.get(&stripped);
                if sp != NONE && s.spaced[sp as usize].0 != gen {
                    s.spaced[sp as usize] = (gen, pos as u32);
                }
            }
            s.pos_slots.push((d, sp));
        }
        let Scratch {
            lower,
            seg,
            pos_slots,
            direct,
            spaced,
            ..
        } = s;
        View {
            rec,
            vals,
            lower,
            seg,
            pos_slots,
            direct,
            spaced,
            gen,
            any_spaced,
        }
    }

    /// Position of the field `names` resolves to.
    #[inline]
    pub fn find(&self, names: &Names) -> Option<usize> {
        for &sl in names.slots.iter() {
            let (g, p) = self.direct[sl as usize];
            if g == self.gen {
                return Some(p as usize);
            }
        }
        if self.any_spaced {
            for &sl in names.slots.iter() {
                let (g, p) = self.spaced[sl as usize];
                if g == self.gen {
                    return Some(p as usize);
                }
            }
        }
        None
    }

    /// The value `names` resolves to.
    #[inline]
    pub fn get(&self, names: &Names) -> Option<&'a Value> {
        self.find(names).map(|p| self.vals[p])
    }

    /// The ASCII-lower-cased text of the string value at `pos` (`None`
    /// for other values: numbers, lists, ...).
    #[inline]
    pub fn lowered_str(&self, pos: usize) -> Option<&'a [u8]> {
        match self.vals[pos] {
            Value::Str(_) => {
                let (a, b) = self.seg[pos];
                Some(&self.lower[a as usize..b as usize])
            }
            _ => None,
        }
    }

    /// The lower-cased text of any value at `pos` (list items separated
    /// by NUL), for the literal prefilter.
    #[inline]
    pub fn lowered(&self, pos: usize) -> &'a [u8] {
        let (a, b) = self.seg[pos];
        &self.lower[a as usize..b as usize]
    }

    /// Every value's lower-cased text, NUL-separated (keyword scan).
    #[inline]
    pub fn all_lowered(&self) -> &'a [u8] {
        self.lower
    }

    /// (exact slot, spaceless slot) of the field at `pos`.
    #[inline]
    pub fn slots_at(&self, pos: usize) -> (u32, u32) {
        self.pos_slots[pos]
    }

    /// Number of fields.
    #[inline]
    pub fn len(&self) -> usize {
        self.vals.len()
    }

    /// The name of the field at `pos` (explanations only: not fast).
    pub fn name_at(&self, pos: usize) -> &'a str {
        self.rec.fields().nth(pos).map(|(n, _)| n).unwrap_or("")
    }
}

impl<R: Record + ?Sized> Drop for View<'_, R> {
    /// Gives the values' allocation back for the next event.
    fn drop(&mut self) {
        let v = recycle(std::mem::take(&mut self.vals));
        VALS.with(|c| *c.borrow_mut() = v);
    }
}

/// Appends the ASCII-lower-cased text of `v` (list items NUL-separated).
fn append_lower(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::Str(s) => {
            let start = out.len();
            out.extend_from_slice(s.as_bytes());
            out[start..].make_ascii_lowercase();
        }
        Value::List(items) => {
            for (i, it) in items.iter().enumerate() {
                if i > 0 {
                    out.push(0);
                }
                append_lower(it, out);
            }
        }
        other => with_text(other, |t| {
            out.extend(t.bytes().map(|b| b.to_ascii_lowercase()))
        }),
    }
}

thread_local! {
    pub(crate) static SCRATCH: std::cell::RefCell<Scratch> =
        std::cell::RefCell::new(Scratch::default());
    /// Recycled allocation for [`View::vals`].
    static VALS: std::cell::RefCell<Vec<&'static Value>> =
        const { std::cell::RefCell::new(Vec::new()) };
}
