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
//! Semantics are those of [`vigie_event::Event::get`]: a name present
//! several times resolves to its last occurrence. A name with spaces
//! (`Threat Name`, Defender) also answers for the name without them
//! (`ThreatName`, as Sigma writes it), after any exact match of the names
//! tried (Sigma "Field Usage").

use std::sync::Arc;

use vigie_event::{Record, Value};

use crate::prefilter::FastMap;
use crate::value::with_text;

/// No slot: the name is tested by no rule.
pub(crate) const NONE: u32 = u32::MAX;

/// The field names rules test, numbered (built at compile time).
pub(crate) struct Slots {
    map: FastMap<Arc<str>, u32>,
    /// Identifies this numbering: a thread's [`Scratch`] serves every
    /// engine on the thread, and its name memo is only valid for the
    /// numbering it was made with.
    id: u64,
}

/// A number never handed out before in this process: the identity of a
/// [`Slots`] numbering or of a prefilter, which per-thread memos compare
/// to know whether what they remember is still theirs.
pub(crate) fn next_id() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

impl Default for Slots {
    fn default() -> Slots {
        Slots {
            map: FastMap::default(),
            id: next_id(),
        }
    }
}

impl Slots {
    /// The slot of `name`, numbering it if new.
    pub fn intern(&mut self, name: &Arc<str>) -> u32 {
        let n = self.map.len() as u32;
        let slot = *self.map.entry(name.clone()).or_insert(n);
        if slot == n {
            // A new numbering: memos made with the old one are stale.
            self.id = next_id();
        }
        slot
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
    /// Per memo key (see [`View::build`]): the field names of the last
    /// event built under it, with their slots.
    names: Vec<Vec<NameSlots>>,
    /// The [`Slots::id`] `names` was made with.
    names_of: u64,
}

/// A field name resolved to its slots (see [`Scratch::names`]).
struct NameSlots {
    name: Box<str>,
    direct: u32,
    spaced: u32,
}

/// The slots of the field name `name`: its own, and that of the name
/// without spaces when it has some (`NONE` when no rule tests it).
fn resolve(name: &str, slots: &Slots) -> (u32, u32) {
    let d = slots.get(name);
    let mut sp = NONE;
    if name.as_bytes().contains(&b' ') {
        let stripped: String = name.chars().filter(|c| *c != ' ').collect();
        sp = slots.get(&stripped);
    }
    (d, sp)
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
    ///
    /// `memo`: a key under which events usually have the same field names
    /// in the same order (the evaluation passes its candidate list, i.e.
    /// the event's channel and id). The names of the last event built
    /// under the key are kept with their slots, so a field whose name is
    /// the same as at its position in that event costs one comparison
    /// instead of a hash lookup (measured: the lookups were most of the
    /// view's cost). `None`: no memo.
    pub fn build(
        rec: &'a R,
        slots: &Slots,
        s: &'a mut Scratch,
        memo: Option<usize>,
    ) -> View<'a, R> {
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
        if s.names_of != slots.id {
            s.names.clear();
            s.names_of = slots.id;
        }
        let mut memo = match memo {
            Some(k) => {
                if s.names.len() <= k {
                    s.names.resize_with(k + 1, Vec::new);
                }
                Some(&mut s.names[k])
            }
            None => None,
        };
        let mut vals: Vec<&'a Value> = recycle(VALS.with(|c| std::mem::take(&mut *c.borrow_mut())));
        let mut any_spaced = false;
        for (pos, (name, v)) in rec.fields().enumerate() {
            vals.push(v);
            let start = s.lower.len() as u32;
            append_lower(v, &mut s.lower);
            s.seg.push((start, s.lower.len() as u32));
            // Separator: the keyword scan runs over the whole buffer.
            s.lower.push(0);
            let (d, sp) = match memo.as_deref_mut() {
                Some(m) => match m.get(pos) {
                    Some(c) if *c.name == *name => (c.direct, c.spaced),
                    _ => {
                        let (d, sp) = resolve(name, slots);
                        let c = NameSlots {
                            name: name.into(),
                            direct: d,
                            spaced: sp,
                        };
                        if pos < m.len() {
                            m[pos] = c;
                        } else {
                            m.push(c);
                        }
                        (d, sp)
                    }
                },
                None => resolve(name, slots),
            };
            if d != NONE {
                s.direct[d as usize] = (gen, pos as u32);
            }
            if sp != NONE {
                any_spaced = true;
                if s.spaced[sp as usize].0 != gen {
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

#[cfg(test)]
mod tests {
    use super::*;
    use vigie_event::{Event, Locator, Origin};

    fn event(fields: &[(&str, &str)]) -> Event {
        let mut e = Event::new(Origin {
            source: "t".into(),
            locator: Locator::None,
        });
        for (k, v) in fields {
            e.push(*k, *v);
        }
        e
    }

    fn names(slots: &mut Slots, n: &str) -> Names {
        let a: Arc<str> = n.into();
        Names {
            slots: Box::new([slots.intern(&a)]),
            names: Box::new([a]),
        }
    }

    /// The name memo must never hand a field the slots of the name that
    /// stood at its position in an earlier event, nor survive a change
    /// of numbering.
    #[test]
    fn memo_follows_names_not_positions() {
        let mut slots = Slots::default();
        let image = names(&mut slots, "Image");
        let cli = names(&mut slots, "CommandLine");
        let threat = names(&mut slots, "ThreatName");
        let s = std::cell::RefCell::new(Scratch::default());
        let a = event(&[("Image", "a.exe"), ("CommandLine", "a -x")]);
        let b = event(&[
            ("CommandLine", "b -y"),
            ("Threat Name", "T"),
            ("Image", "b.exe"),
        ]);
        let c = event(&[("Other", "o"), ("Image", "c.exe")]);
        for _ in 0..2 {
            for (e, img, cl, th) in [
                (&a, Some("a.exe"), Some("a -x"), None),
                (&b, Some("b.exe"), Some("b -y"), Some("T")),
                (&c, Some("c.exe"), None, None),
            ] {
                let mut g = s.borrow_mut();
                let v = View::build(e, &slots, &mut g, Some(0));
                assert_eq!(v.get(&image).and_then(|x| x.as_str()), img);
                assert_eq!(v.get(&cli).and_then(|x| x.as_str()), cl);
                assert_eq!(v.get(&threat).and_then(|x| x.as_str()), th);
            }
        }
        // A new name numbered after the memo was made: the memo of `a`
        // said "Other" has no slot; it must not be believed any more.
        let other = names(&mut slots, "Other");
        let mut g = s.borrow_mut();
        let v = View::build(&c, &slots, &mut g, Some(0));
        assert_eq!(v.get(&other).and_then(|x| x.as_str()), Some("o"));
        // Another engine's numbering on the same scratch.
        let mut slots2 = Slots::default();
        let cli2 = names(&mut slots2, "CommandLine");
        drop(v);
        drop(g);
        let mut g = s.borrow_mut();
        let v = View::build(&b, &slots2, &mut g, Some(0));
        assert_eq!(v.get(&cli2).and_then(|x| x.as_str()), Some("b -y"));
    }
}
