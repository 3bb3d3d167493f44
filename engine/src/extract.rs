//! Reading a request context from JSON text straight into slots, keeping
//! only the paths the rules read.
//!
//! A single-flag request needs a handful of values out of a context that may
//! have dozens of keys. [`PathTrie::extract`] scans the text once: members on
//! the trie's paths are parsed into their slots, everything else is skipped
//! by a validating scanner that allocates nothing, so malformed text is
//! still refused exactly as a full parse would refuse it.

use std::borrow::Cow;
use std::cell::Cell;

use serde_json::Value;

use crate::MAX_DATA_DEPTH as MAX_DEPTH;
use crate::context::SlotId;
use crate::logic::{Seg, Val};

/// The set of paths to read, as a trie of keys whose nodes name slots.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PathTrie {
    /// Children sorted by key bytes.
    children: Vec<(Box<str>, PathTrie)>,
    /// The children by key, open-addressed on the key's length and first
    /// eight bytes: most keys of a context are told apart from the wanted
    /// ones by these alone, in one probe or two whatever the number of
    /// children, where a linear scan cost one compare per child. A power of
    /// two long and at least twice the children, so every probe meets an
    /// empty entry.
    table: Vec<Entry>,
    /// The slot this node's whole value goes to, if a path ends here.
    slot: Option<SlotId>,
    /// Position in depth-first order (see [`PathTrie::number`]), for
    /// noticing a repeated key.
    id: usize,
    /// Number of nodes in the trie (on the root only).
    nodes: usize,
    /// One past the highest slot on the trie (on the root only).
    span: usize,
}

/// A child in its parent's key table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Entry {
    /// The key's first eight bytes, zero-padded.
    word: u64,
    /// The key's length plus one (saturating); zero marks an empty entry.
    len: u32,
    /// The child's index in `children`.
    child: u32,
}

/// Why a context could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContextError {
    /// Not JSON.
    #[error("the evaluation context is not valid JSON: {0}")]
    Syntax(String),
    /// JSON, but not an object.
    #[error("the evaluation context must be a JSON object")]
    NotAnObject,
}

/// Slot values read out of a context's JSON text, ready to evaluate:
/// strings borrow the text; the rare array or object read into a slot is
/// kept aside, parsed, for [`Extracted::into_slots`] to lend.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Extracted<'t> {
    slots: Vec<Option<Val<'t>>>,
    /// Arrays and objects read into slots, by slot index.
    composites: Vec<(usize, Value)>,
    /// Trie nodes whose key has been met, one bit each.
    met: Met,
}

/// One bit per trie node: inline for tries of up to 256 nodes (every
/// flag's paths, in practice), so that reading a context allocates
/// nothing but what it keeps.
#[derive(Debug, Clone, PartialEq)]
enum Met {
    Inline([u64; 4]),
    Heap(Vec<u64>),
}

impl Default for Met {
    fn default() -> Self {
        Met::Inline([0; 4])
    }
}

impl Met {
    /// No node met, of `nodes`.
    fn new(nodes: usize) -> Self {
        let words = nodes.div_ceil(64);
        if words <= 4 {
            Met::default()
        } else {
            Met::Heap(vec![0; words])
        }
    }

    fn words(&mut self) -> &mut [u64] {
        match self {
            Met::Inline(words) => words,
            Met::Heap(words) => words,
        }
    }
}

impl<'t> Extracted<'t> {
    /// Splits into the slot values and the arrays and objects still to be
    /// lent to their slots (see [`crate::Prepared::from_extracted`]).
    pub(crate) fn into_parts(self) -> (Vec<Option<Val<'t>>>, Vec<(usize, Value)>) {
        (self.slots, self.composites)
    }

    /// The slots as JSON values (for tests and diagnostics).
    pub fn to_json(&self) -> Vec<Option<Value>> {
        let mut out: Vec<Option<Value>> = self
            .slots
            .iter()
            .map(|v| v.as_ref().map(Val::to_json))
            .collect();
        for (slot, value) in &self.composites {
            if let Some(cell) = out.get_mut(*slot) {
                *cell = Some(value.clone());
            }
        }
        out
    }

    /// Marks a trie node's key as met; true if it had been met before.
    #[inline(always)]
    fn seen(&mut self, id: usize) -> bool {
        let (word, bit) = (id / 64, 1u64 << (id % 64));
        match self.met.words().get_mut(word) {
            Some(w) => {
                let before = *w & bit != 0;
                *w |= bit;
                before
            }
            None => false,
        }
    }

    /// Sets a slot's value.
    #[inline(always)]
    fn set(&mut self, slot: SlotId, value: Option<Val<'t>>) {
        let index = slot.0 as usize;
        if !self.composites.is_empty() {
            self.forget_composite(index);
        }
        if let Some(cell) = self.slots.get_mut(index) {
            *cell = value;
        }
    }

    /// Sets a slot to the value `make` builds, building it only once the
    /// slot is known empty: a value built first and kept across the drop
    /// of the slot's old one went through the stack, stored in pieces and
    /// read back whole before the stores had landed, which stalls.
    #[inline(always)]
    fn put(&mut self, slot: SlotId, make: impl FnOnce() -> Val<'t>) {
        let index = slot.0 as usize;
        if !self.composites.is_empty() {
            self.forget_composite(index);
        }
        if let Some(cell) = self.slots.get_mut(index) {
            if cell.is_some() {
                discard(cell.take());
            }
            *cell = Some(make());
        }
    }

    /// Drops the array or object a slot was given, if any (a repeated key
    /// replaced it).
    #[cold]
    fn forget_composite(&mut self, index: usize) {
        self.composites.retain(|(s, _)| *s != index);
    }
}

/// Drops a value out of line (see [`Extracted::set`]).
#[cold]
#[inline(never)]
fn discard(value: Option<Val<'_>>) {
    drop(value);
}

impl<'t> Extracted<'t> {
    /// Stores a parsed value as a slot's value.
    fn store(&mut self, slot: SlotId, value: Value) {
        let scalar = match value {
            Value::Null => Val::Null,
            Value::Bool(b) => Val::Bool(b),
            Value::Number(n) => Val::Num(n.as_f64().unwrap_or(f64::NAN)),
            Value::String(s) => Val::Str(Cow::Owned(s)),
            composite => {
                self.set(slot, None);
                self.composites.push((slot.0 as usize, composite));
                return;
            }
        };
        self.set(slot, Some(scalar));
    }
}

impl PathTrie {
    /// Adds a path whose value goes to `slot`.
    pub(crate) fn insert(&mut self, path: &[Seg], slot: SlotId) {
        self.span = self.span.max(slot.0 as usize + 1);
        let mut node = self;
        for seg in path {
            let i = match node
                .children
                .binary_search_by(|(k, _)| k.as_bytes().cmp(seg.key.as_bytes()))
            {
                Ok(i) => i,
                Err(i) => {
                    node.children
                        .insert(i, (seg.key.clone(), PathTrie::default()));
                    node.index();
                    i
                }
            };
            node = &mut node.children[i].1;
        }
        node.slot = Some(slot);
    }

    /// Rebuilds the key table after a child is added.
    fn index(&mut self) {
        let size = (self.children.len() * 2).next_power_of_two();
        let mut table = vec![Entry::default(); size];
        for (i, (key, _)) in self.children.iter().enumerate() {
            let key = key.as_bytes();
            let word = head(key, 0, key.len());
            let mut at = bucket(key.len(), word, size);
            while table[at].len != 0 {
                at = (at + 1) & (size - 1);
            }
            table[at] = Entry {
                word,
                len: stored_len(key.len()),
                child: u32::try_from(i).unwrap_or(u32::MAX),
            };
        }
        self.table = table;
    }

    /// Numbers the nodes in depth-first order; call once after the inserts.
    pub(crate) fn number(&mut self) {
        fn walk(node: &mut PathTrie, next: &mut usize) {
            node.id = *next;
            *next += 1;
            for (_, child) in &mut node.children {
                walk(child, next);
            }
        }
        let mut next = 0;
        walk(self, &mut next);
        self.nodes = next;
    }

    /// Whether no path is in the trie.
    pub fn is_empty(&self) -> bool {
        self.children.is_empty() && self.slot.is_none()
    }

    /// Scans a context, returning the value of each slot on the trie
    /// (indexed by slot; `slot_count` long, or shorter when the trie's
    /// slots all come before `slot_count`: the slots left out are absent,
    /// and a vector that fits a small allocation costs far less to get).
    pub fn extract<'t>(
        &self,
        text: &'t str,
        slot_count: usize,
    ) -> Result<Extracted<'t>, ContextError> {
        let mut out = Extracted {
            slots: spare_slots(slot_count.min(self.span)),
            composites: Vec::new(),
            met: Met::new(self.nodes),
        };
        let scanner = Scanner {
            text,
            bytes: text.as_bytes(),
        };
        let start = ws(scanner.bytes, 0);
        if scanner.bytes.get(start) != Some(&b'{') {
            // Tell "not an object" from "not JSON" the way a full parse would.
            return Err(match serde_json::from_str::<serde::de::IgnoredAny>(text) {
                Ok(_) => ContextError::NotAnObject,
                Err(e) => ContextError::Syntax(e.to_string()),
            });
        }
        let scanned = if self.children.is_empty() {
            // Nothing to read: only validate.
            scanner.skip(start, 0)
        } else {
            scanner.object(start, self, 0, &mut out)
        };
        let end = ws(scanner.bytes, scanned.map_err(|Bad(e)| *e)?);
        if end != scanner.bytes.len() {
            return Err(*scanner.fail(end, "trailing characters").0);
        }
        Ok(out)
    }

    /// The child for a key whose first eight bytes (zero-padded) are
    /// `word`.
    #[inline(always)]
    fn child(&self, key: &[u8], word: u64) -> Option<&PathTrie> {
        let size = self.table.len();
        let len = stored_len(key.len());
        let mut at = bucket(key.len(), word, size);
        loop {
            let entry = self.table.get(at)?;
            if entry.len == 0 {
                return None;
            }
            if entry.word == word
                && entry.len == len
                && let Some((name, child)) = self.children.get(entry.child as usize)
                && (key.len() <= 8
                    || crate::logic::eval::short_eq(&name.as_bytes()[8..], &key[8..]))
            {
                return Some(child);
            }
            at = (at + 1) & (size - 1);
        }
    }

    /// Empties this node's slot and every slot below it.
    fn clear(&self, out: &mut Extracted<'_>) {
        if let Some(slot) = self.slot {
            out.set(slot, None);
        }
        for (_, child) in &self.children {
            child.clear(out);
        }
    }

    /// Fills the slots below this node from a parsed value, then this
    /// node's own slot with the value itself.
    fn fill(&self, value: Value, out: &mut Extracted<'_>) {
        for (key, child) in &self.children {
            if let Some(inner) = crate::context::step(&value, &Seg::new(key)) {
                child.fill(inner.clone(), out);
            }
        }
        if let Some(slot) = self.slot {
            out.store(slot, value);
        }
    }
}

thread_local! {
    /// An emptied slot vector, kept for the next extraction on this thread:
    /// a context with many wanted paths needs a vector too large for the
    /// allocator's per-thread caches, and getting one each time cost more
    /// than filling it.
    static SPARE_SLOTS: Cell<Vec<Option<Val<'static>>>> = const { Cell::new(Vec::new()) };
}

/// `len` empty slots, in this thread's spare vector when it has one.
fn spare_slots<'t>(len: usize) -> Vec<Option<Val<'t>>> {
    let mut slots = retype(SPARE_SLOTS.with(Cell::take));
    slots.resize(len, None);
    slots
}

/// Empties a slot vector and keeps it for this thread's next extraction.
pub(crate) fn recycle_slots(mut slots: Vec<Option<Val<'_>>>) {
    slots.clear();
    SPARE_SLOTS.with(|spare| spare.set(retype(slots)));
}

/// An empty vector of slots, re-typed for another lifetime: the in-place
/// collect of a vector into one of a same-sized type keeps its buffer.
fn retype<'a, 'b>(slots: Vec<Option<Val<'a>>>) -> Vec<Option<Val<'b>>> {
    debug_assert!(slots.is_empty());
    slots.into_iter().map(|_| None).collect()
}

/// Reads a validated JSON number; numbers of up to 15 digits without an
/// exponent (integers, coordinates, prices) without the general float
/// parser.
fn parse_number(span: &str) -> f64 {
    const POWERS: [f64; 16] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
    ];
    let (negative, body) = match span.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, span),
    };
    // A byte search: numbers are short, too short for `split_once`'s
    // searcher to pay for itself.
    let (whole, fraction) = match body.bytes().position(|b| b == b'.') {
        Some(dot) => (&body[..dot], &body[dot + 1..]),
        None => (body, ""),
    };
    let digits = whole.bytes().chain(fraction.bytes());
    if whole.len() + fraction.len() <= 15
        && digits.clone().all(|b| b.is_ascii_digit())
        && let Some(scale) = POWERS.get(fraction.len())
    {
        let mantissa = digits.fold(0u64, |n, b| n * 10 + u64::from(b - b'0'));
        // The digits and the power of ten are both exact in an f64 (below
        // 10^15 < 2^53), and a division rounds correctly, so this is the
        // nearest f64 to the decimal, as the general parser finds.
        #[allow(clippy::cast_precision_loss)]
        let value = mantissa as f64 / scale;
        return if negative { -value } else { value };
    }
    span.parse::<f64>().unwrap_or(f64::NAN)
}

/// A validated number of up to 15 digits without fraction or exponent as
/// serde_json reads it (a `u64`, or an `i64` when negative); `None` for
/// any other, and for `-0`, which it reads as a float.
fn small_integer(span: &[u8]) -> Option<Value> {
    let (negative, digits) = match span.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, span),
    };
    if digits.len() > 15 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n = digits
        .iter()
        .fold(0i64, |n, &b| n * 10 + i64::from(b - b'0'));
    match (negative, n) {
        (false, n) => Some(Value::from(n.unsigned_abs())),
        (true, 0) => None,
        (true, n) => Some(Value::from(-n)),
    }
}

/// A key's length as a table entry holds it.
#[inline(always)]
fn stored_len(len: usize) -> u32 {
    u32::try_from(len).map_or(u32::MAX, |len| len.saturating_add(1))
}

/// The first eight bytes (zero-padded) of the `len` bytes at `start`: in a
/// context's text there is nearly always room for one eight-byte load,
/// masked down for a short key, instead of a byte-by-byte gather.
#[inline(always)]
fn head(bytes: &[u8], start: usize, len: usize) -> u64 {
    match bytes.get(start..start + 8) {
        // A fixed-size copy: one load, no call into memmove.
        Some(head) => {
            let mut word = [0u8; 8];
            word.copy_from_slice(head);
            let word = u64::from_le_bytes(word);
            if len >= 8 {
                word
            } else {
                word & ((1u64 << (8 * len)) - 1)
            }
        }
        None => bytes
            .iter()
            .skip(start)
            .take(len.min(8))
            .enumerate()
            .fold(0u64, |word, (i, &b)| word | (u64::from(b) << (8 * i))),
    }
}

/// The table entry where a probe for a print starts (`size` is a power of
/// two).
#[inline(always)]
fn bucket(len: usize, word: u64, size: usize) -> usize {
    // Fibonacci hashing: the multiply spreads every input bit into the
    // high half, which is taken.
    let hash = (word ^ len as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    (hash >> 32) as usize & (size - 1)
}

/// Parses a whole context.
pub fn parse_context(text: &str) -> Result<Value, ContextError> {
    match serde_json::from_str::<Value>(text) {
        Ok(value @ Value::Object(_)) => Ok(value),
        Ok(_) => Err(ContextError::NotAnObject),
        Err(e) => Err(ContextError::Syntax(e.to_string())),
    }
}

/// The position of the first byte at or after `pos` that ends plain string
/// content: `"`, `\\` or a control character (or the end). Eight bytes at a
/// time: JSON strings are short, too short for a vectorised search to pay
/// for its setup.
#[inline(always)]
fn string_stop(bytes: &[u8], mut pos: usize) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    // Flags (in bit 7 of each byte) the bytes of `x` equal to zero; exact for
    // the lowest flagged byte, which is the one taken.
    let zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGHS;
    while let Some(chunk) = bytes.get(pos..pos + 8) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let x = u64::from_le_bytes(word);
        let stops = zero(x ^ (ONES * u64::from(b'"')))
            | zero(x ^ (ONES * u64::from(b'\\')))
            | (x.wrapping_sub(ONES * 0x20) & !x & HIGHS);
        if stops != 0 {
            return pos + (stops.trailing_zeros() / 8) as usize;
        }
        pos += 8;
    }
    while let Some(&b) = bytes.get(pos) {
        if b == b'"' || b == b'\\' || b < 0x20 {
            break;
        }
        pos += 1;
    }
    pos
}

/// Skips whitespace from `pos`.
#[inline(always)]
fn ws(bytes: &[u8], mut pos: usize) -> usize {
    while let Some(b' ' | b'\n' | b'\r' | b'\t') = bytes.get(pos) {
        pos += 1;
    }
    pos
}

/// The position of the next token from `pos`, expected to be `want`: text
/// on the wire is mostly compact, so `want` is tried before whitespace is
/// looked for.
#[inline(always)]
fn token(bytes: &[u8], pos: usize, want: u8) -> usize {
    if bytes.get(pos) == Some(&want) {
        pos
    } else {
        ws(bytes, pos)
    }
}

/// Malformed text: the error, built where the scan stopped (a cold path)
/// and boxed, so that the scanning functions' results fit in registers.
struct Bad(Box<ContextError>);

/// The text being scanned. Positions are passed and returned by value
/// rather than kept in a field, so that the hot loops hold them in a
/// register.
struct Scanner<'t> {
    text: &'t str,
    bytes: &'t [u8],
}

impl<'t> Scanner<'t> {
    #[cold]
    #[inline(never)]
    fn fail(&self, at: usize, what: &str) -> Bad {
        // Report like serde_json: line and column of the problem.
        let before = &self.bytes[..at.min(self.bytes.len())];
        let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
        let column = before.iter().rev().take_while(|&&b| b != b'\n').count() + 1;
        Bad(Box::new(ContextError::Syntax(format!(
            "{what} at line {line} column {column}"
        ))))
    }

    /// Scans an object at `pos` (which is `{`); members on the trie are
    /// parsed into slots. Returns the position after the object.
    fn object(
        &self,
        mut pos: usize,
        trie: &PathTrie,
        depth: usize,
        out: &mut Extracted<'t>,
    ) -> Result<usize, Bad> {
        let bytes = self.bytes;
        if depth >= MAX_DEPTH {
            return Err(self.fail(pos, "recursion limit exceeded"));
        }
        pos = ws(bytes, pos + 1);
        if bytes.get(pos) == Some(&b'}') {
            return Ok(pos + 1);
        }
        loop {
            pos = token(bytes, pos, b'"');
            if bytes.get(pos) != Some(&b'"') {
                return Err(self.fail(pos, "key must be a string"));
            }
            let (end, escaped) = self.string(pos)?;
            let child = if escaped {
                let key: String = serde_json::from_str(&self.text[pos..end])
                    .map_err(|e| Bad(Box::new(ContextError::Syntax(e.to_string()))))?;
                trie.child(key.as_bytes(), head(key.as_bytes(), 0, key.len()))
            } else {
                let key = &bytes[pos + 1..end - 1];
                trie.child(key, head(bytes, pos + 1, key.len()))
            };
            pos = token(bytes, end, b':');
            if bytes.get(pos) != Some(&b':') {
                return Err(self.fail(pos, "expected `:`"));
            }
            pos = ws(bytes, pos + 1);
            pos = match child {
                Some(node) => {
                    if out.seen(node.id) {
                        // A repeated key replaces the earlier member, as in
                        // a full parse: forget what the earlier one filled in.
                        node.clear(out);
                    }
                    self.member(pos, node, depth, out)?
                }
                // Most members are scalars: skip strings and numbers here,
                // without a call.
                None => match bytes.get(pos) {
                    Some(b'"') => self.string(pos)?.0,
                    Some(b'-' | b'0'..=b'9') => self.number(pos)?,
                    _ => self.skip(pos, depth + 1)?,
                },
            };
            pos = token(bytes, pos, b',');
            match bytes.get(pos) {
                Some(b',') => pos += 1,
                Some(b'}') => return Ok(pos + 1),
                _ => return Err(self.fail(pos, "expected `,` or `}`")),
            }
        }
    }

    /// Reads the value at `pos` of a member on the trie.
    fn member(
        &self,
        pos: usize,
        node: &PathTrie,
        depth: usize,
        out: &mut Extracted<'t>,
    ) -> Result<usize, Bad> {
        match (self.bytes.get(pos), node.slot) {
            // Only paths below: go on into the object.
            (Some(b'{'), None) => self.object(pos, node, depth + 1, out),
            // A path ends here with an array or object, or goes on into an
            // array: parse the value and fill the slots from it.
            (Some(b'{' | b'['), _) => {
                let flat = match self.bytes.get(pos) {
                    Some(b'[') if depth + 1 < MAX_DEPTH => self.flat_array(pos),
                    _ => None,
                };
                let (value, end) = match flat {
                    Some(read) => read,
                    None => {
                        let end = self.skip(pos, depth + 1)?;
                        let value: Value = serde_json::from_str(&self.text[pos..end])
                            .map_err(|e| Bad(Box::new(ContextError::Syntax(e.to_string()))))?;
                        (value, end)
                    }
                };
                node.fill(value, out);
                Ok(end)
            }
            (_, Some(slot)) => self.scalar(pos, slot, out),
            (_, None) => self.skip(pos, depth + 1),
        }
    }

    /// Reads a flat array of strings, booleans, nulls and integers of up to
    /// 15 digits (the usual shape of tags, roles, segments) at `start`
    /// straight into a JSON value, without scanning it twice. `None` for
    /// any other array, valid or not: the caller then skips it, refusing
    /// it if it is malformed, and parses it in full.
    fn flat_array(&self, start: usize) -> Option<(Value, usize)> {
        let bytes = self.bytes;
        let mut items = Vec::new();
        let mut pos = ws(bytes, start + 1);
        if bytes.get(pos) == Some(&b']') {
            return Some((Value::Array(items), pos + 1));
        }
        loop {
            let item = match bytes.get(pos)? {
                b'"' => {
                    let (end, escaped) = self.string(pos).ok()?;
                    let raw = self.text.get(pos..end)?;
                    pos = end;
                    if escaped {
                        Value::String(serde_json::from_str(raw).ok()?)
                    } else {
                        Value::String(raw.get(1..raw.len() - 1)?.to_owned())
                    }
                }
                b't' => {
                    pos = self.literal(pos, b"true").ok()?;
                    Value::Bool(true)
                }
                b'f' => {
                    pos = self.literal(pos, b"false").ok()?;
                    Value::Bool(false)
                }
                b'n' => {
                    pos = self.literal(pos, b"null").ok()?;
                    Value::Null
                }
                b'-' | b'0'..=b'9' => {
                    let end = self.number(pos).ok()?;
                    let item = small_integer(bytes.get(pos..end)?)?;
                    pos = end;
                    item
                }
                _ => return None,
            };
            items.push(item);
            pos = ws(bytes, pos);
            match bytes.get(pos)? {
                b',' => pos = ws(bytes, pos + 1),
                b']' => return Some((Value::Array(items), pos + 1)),
                _ => return None,
            }
        }
    }

    /// Reads the scalar at `pos` on a path's end into its slot, in place
    /// (strings without escapes borrow the text); returns the position
    /// after it. Each arm stores its own value: a value built in one arm
    /// and stored after the match went through a temporary on the stack,
    /// written in pieces and read back whole, which stalls.
    #[inline(always)]
    fn scalar(&self, pos: usize, slot: SlotId, out: &mut Extracted<'t>) -> Result<usize, Bad> {
        match self.bytes.get(pos) {
            Some(b'"') => {
                let (end, escaped) = self.string(pos)?;
                if escaped {
                    let value = serde_json::from_str(&self.text[pos..end])
                        .map_err(|e| Bad(Box::new(ContextError::Syntax(e.to_string()))))?;
                    out.put(slot, || Val::Str(Cow::Owned(value)));
                } else {
                    let text = &self.text[pos + 1..end - 1];
                    out.put(slot, || Val::Str(Cow::Borrowed(text)));
                }
                Ok(end)
            }
            Some(b't') => {
                let end = self.literal(pos, b"true")?;
                out.put(slot, || Val::Bool(true));
                Ok(end)
            }
            Some(b'f') => {
                let end = self.literal(pos, b"false")?;
                out.put(slot, || Val::Bool(false));
                Ok(end)
            }
            Some(b'n') => {
                let end = self.literal(pos, b"null")?;
                out.put(slot, || Val::Null);
                Ok(end)
            }
            Some(b'-' | b'0'..=b'9') => {
                let end = self.number(pos)?;
                let number = parse_number(&self.text[pos..end]);
                out.put(slot, || Val::Num(number));
                Ok(end)
            }
            Some(_) => Err(self.fail(pos, "expected value")),
            None => Err(self.fail(pos, "EOF while parsing a value")),
        }
    }

    /// Validates and skips the value at `pos`, returning the position after
    /// it; iteratively: the containers it opens are tracked one bit each
    /// (object or array), so skipping costs no call per token.
    fn skip(&self, mut pos: usize, depth: usize) -> Result<usize, Bad> {
        const OBJECT: u128 = 1;
        let bytes = self.bytes;
        let mut stack: u128 = 0;
        let mut open = 0usize;
        'value: loop {
            pos = ws(bytes, pos);
            match bytes.get(pos) {
                Some(b'"') => pos = self.string(pos)?.0,
                Some(&open_with @ (b'{' | b'[')) => {
                    if depth + open >= MAX_DEPTH {
                        return Err(self.fail(pos, "recursion limit exceeded"));
                    }
                    let object = open_with == b'{';
                    pos = ws(bytes, pos + 1);
                    // `}` and `]` are two past `{` and `[`.
                    if bytes.get(pos) == Some(&(open_with + 2)) {
                        pos += 1;
                    } else {
                        stack = (stack << 1) | u128::from(object);
                        open += 1;
                        if object {
                            pos = self.key(pos)?;
                        }
                        continue 'value;
                    }
                }
                Some(b't') => pos = self.literal(pos, b"true")?,
                Some(b'f') => pos = self.literal(pos, b"false")?,
                Some(b'n') => pos = self.literal(pos, b"null")?,
                Some(b'-' | b'0'..=b'9') => pos = self.number(pos)?,
                Some(_) => return Err(self.fail(pos, "expected value")),
                None => return Err(self.fail(pos, "EOF while parsing a value")),
            }
            // After a value: a comma continues the innermost container, a
            // closing bracket ends it.
            loop {
                if open == 0 {
                    return Ok(pos);
                }
                pos = ws(bytes, pos);
                let in_object = stack & OBJECT != 0;
                match bytes.get(pos) {
                    Some(b',') => {
                        pos += 1;
                        if in_object {
                            pos = self.key(pos)?;
                        }
                        continue 'value;
                    }
                    Some(b'}') if in_object => {}
                    Some(b']') if !in_object => {}
                    _ if in_object => return Err(self.fail(pos, "expected `,` or `}`")),
                    _ => return Err(self.fail(pos, "expected `,` or `]`")),
                }
                pos += 1;
                stack >>= 1;
                open -= 1;
            }
        }
    }

    /// Skips an object key and its colon.
    #[inline(always)]
    fn key(&self, pos: usize) -> Result<usize, Bad> {
        let pos = token(self.bytes, pos, b'"');
        if self.bytes.get(pos) != Some(&b'"') {
            return Err(self.fail(pos, "key must be a string"));
        }
        let (end, _) = self.string(pos)?;
        let pos = token(self.bytes, end, b':');
        if self.bytes.get(pos) != Some(&b':') {
            return Err(self.fail(pos, "expected `:`"));
        }
        Ok(pos + 1)
    }

    /// Scans a string at `start` (which is `"`); returns the position after
    /// its closing quote and whether it has escapes.
    #[inline(always)]
    fn string(&self, start: usize) -> Result<(usize, bool), Bad> {
        let mut pos = start + 1;
        let mut escaped = false;
        loop {
            // Jump to the next quote, backslash or control character;
            // everything before it is plain content.
            pos = string_stop(self.bytes, pos);
            match self.bytes.get(pos) {
                Some(b'"') => return Ok((pos + 1, escaped)),
                Some(b'\\') => {
                    escaped = true;
                    pos = self.escape(pos + 1)?;
                }
                Some(_) => return Err(self.fail(pos, "control character in string")),
                None => return Err(self.fail(pos, "EOF while parsing a string")),
            }
        }
    }

    /// Validates the escape whose letter is at `pos`; returns the position
    /// after it. Out of line: escapes are rare.
    #[inline(never)]
    fn escape(&self, pos: usize) -> Result<usize, Bad> {
        match self.bytes.get(pos) {
            Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => Ok(pos + 1),
            Some(b'u') => {
                let unit = self.hex4(pos, pos + 1)?;
                let pos = pos + 5;
                // Surrogates must pair up, as serde_json requires.
                if (0xD800..0xDC00).contains(&unit) {
                    let low = match self.bytes.get(pos..pos + 2) {
                        Some(b"\\u") => self.hex4(pos, pos + 2)?,
                        _ => return Err(self.fail(pos, "lone leading surrogate in hex escape")),
                    };
                    if !(0xDC00..0xE000).contains(&low) {
                        return Err(self.fail(pos, "lone leading surrogate in hex escape"));
                    }
                    Ok(pos + 6)
                } else if (0xDC00..0xE000).contains(&unit) {
                    Err(self.fail(pos, "lone trailing surrogate in hex escape"))
                } else {
                    Ok(pos)
                }
            }
            _ => Err(self.fail(pos, "invalid escape")),
        }
    }

    /// Reads four hex digits at `at` (reporting a problem at `report`).
    fn hex4(&self, report: usize, at: usize) -> Result<u32, Bad> {
        let digits = self
            .bytes
            .get(at..at + 4)
            .ok_or_else(|| self.fail(report, "invalid unicode escape"))?;
        let mut unit = 0;
        for &d in digits {
            let v = char::from(d)
                .to_digit(16)
                .ok_or_else(|| self.fail(report, "invalid unicode escape"))?;
            unit = unit * 16 + v;
        }
        Ok(unit)
    }

    /// Checks for `word` at `pos`; returns the position after it.
    #[inline(always)]
    fn literal(&self, pos: usize, word: &[u8]) -> Result<usize, Bad> {
        if self.bytes.get(pos..pos + word.len()) == Some(word) {
            Ok(pos + word.len())
        } else {
            Err(self.fail(pos, "expected value"))
        }
    }

    /// Validates the number at `pos`; returns the position after it. As
    /// serde_json, a number too large for an `f64` is refused (one too
    /// small reads as zero).
    #[inline(always)]
    fn number(&self, mut pos: usize) -> Result<usize, Bad> {
        /// Fewer whole digits than this and no exponent: always finite.
        const SAFE_DIGITS: usize = 300;
        let start = pos;
        let bytes = self.bytes;
        let digits = |mut pos: usize| {
            while let Some(b'0'..=b'9') = bytes.get(pos) {
                pos += 1;
            }
            pos
        };
        if bytes.get(pos) == Some(&b'-') {
            pos += 1;
        }
        let whole = pos;
        match bytes.get(pos) {
            Some(b'0') => pos += 1,
            Some(b'1'..=b'9') => pos = digits(pos + 1),
            _ => return Err(self.fail(pos, "invalid number")),
        }
        let mut check_range = pos - whole >= SAFE_DIGITS;
        if bytes.get(pos) == Some(&b'.') {
            let end = digits(pos + 1);
            if end == pos + 1 {
                return Err(self.fail(end, "invalid number"));
            }
            pos = end;
        }
        if let Some(b'e' | b'E') = bytes.get(pos) {
            pos += 1;
            if let Some(b'+' | b'-') = bytes.get(pos) {
                pos += 1;
            }
            let end = digits(pos);
            if end == pos {
                return Err(self.fail(pos, "invalid number"));
            }
            pos = end;
            check_range = true;
        }
        // Rare (an exponent, or hundreds of digits), so the general parser
        // costs nothing on the usual path.
        if check_range
            && !self.text[start..pos]
                .parse::<f64>()
                .is_ok_and(f64::is_finite)
        {
            return Err(self.fail(start, "number out of range"));
        }
        Ok(pos)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::split_path;
    use serde_json::json;

    fn trie(paths: &[&str]) -> PathTrie {
        let mut t = PathTrie::default();
        for (i, p) in paths.iter().enumerate() {
            t.insert(&split_path(p), SlotId(u32::try_from(i).unwrap()));
        }
        t.number();
        t
    }

    #[test]
    fn a_recycled_slot_vector_is_reused_empty_by_the_next_extraction() {
        let t = trie(&["a", "b", "c"]);
        let text = String::from(r#"{"a": "x", "b": 2, "c": true}"#);
        let (slots, _) = t.extract(&text, 3).unwrap().into_parts();
        assert_eq!(slots[0], Some(Val::Str(Cow::Borrowed("x"))));
        let buffer = slots.as_ptr() as usize;
        recycle_slots(slots);
        drop(text);
        // A context of another lifetime gets the same buffer, with every
        // slot empty before it is read.
        let other = String::from(r#"{"c": false}"#);
        let (slots, _) = t.extract(&other, 3).unwrap().into_parts();
        assert_eq!(slots.as_ptr() as usize, buffer);
        assert_eq!(slots, [None, None, Some(Val::Bool(false))]);
    }

    #[test]
    fn reads_only_wanted_paths_into_slots() {
        let t = trie(&["user.name", "tags.1", "plan", "absent", "user"]);
        let text = r#"{"user": {"name": "ada", "age": 36, "bio": "x\"y"}, "tags": ["a", {"b": 1}],
                       "plan": {"tier": "pro"}, "noise": [1, 2.5e3, {"deep": [true, false, null]}]}"#;
        let got = t.extract(text, 5).unwrap().to_json();
        assert_eq!(
            got,
            [
                Some(json!("ada")),
                Some(json!({"b": 1})),
                Some(json!({"tier": "pro"})),
                None,
                Some(json!({"name": "ada", "age": 36, "bio": "x\"y"})),
            ]
        );
    }

    #[test]
    fn agrees_with_serde_on_what_is_json() {
        let t = trie(&["a.b", "c"]);
        let cases = [
            r#"{"a": {"b": 1}}"#,
            r#" { "c" : "\u00e9\n" , "z": [ ] } "#,
            r#"{"a": 1, "a": {"b": 2}}"#,
            r#"{"a": {"b": 2}, "a": 1, "c": 0, "c": [1]}"#,
            r#"{"x": -0.5e-3, "y": [1, [2, [3]]], "k\"ey": {}}"#,
            r#"{"a": {"b": 1},}"#,
            r#"{"a": {"b": 01}}"#,
            r#"{"a": "x
y"}"#,
            r#"{"a": tru}"#,
            r#"{"a": "\q"}"#,
            r#"{"z": "\ud83d\ude00", "c": "\u00e9"}"#,
            r#"{"z": "\ud83d"}"#,
            r#"{"z": "\ude00x"}"#,
            r#"{"z": "\ud83d\u0041"}"#,
            r#"{"z": "\u12"}"#,
            r#"{"a" 1}"#,
            r#"{"a": 1} x"#,
            r#"{"a": [1 2]}"#,
            r#"{"c": 1.}"#,
            r#"{"c": 1e400}"#,
            r#"{"c": -1e400}"#,
            r#"{"z": [1e400], "c": 1}"#,
            r#"{"z": {"y": -1.8e308}, "c": 1}"#,
            r#"{"c": [1, 2e999]}"#,
            "[1]",
            "3",
            "",
            "{",
        ];
        for text in cases {
            let ours = t.extract(text, 2);
            let serde = parse_context(text);
            assert_eq!(ours.is_ok(), serde.is_ok(), "{text}: {ours:?} vs {serde:?}");
            if let Err(ContextError::NotAnObject) = serde {
                assert_eq!(ours, Err(ContextError::NotAnObject), "{text}");
            }
            if let Ok(full) = serde {
                let slots = ours.unwrap().to_json();
                assert_eq!(slots[0].as_ref(), full.pointer("/a/b"), "{text}");
                assert_eq!(slots[1].as_ref(), full.get("c"), "{text}");
            }
        }
    }

    /// Numbers at the edge of an `f64`, on a read path and skipped: valid
    /// exactly when serde_json reads them.
    #[test]
    fn numbers_out_of_range_are_refused_like_serde() {
        let t = trie(&["c"]);
        let long = |digits: usize| "9".repeat(digits);
        let numbers = [
            "1e308".to_owned(),
            "1.7976931348623157e308".to_owned(),
            "1.7976931348623159e308".to_owned(),
            "1e309".to_owned(),
            "-1e400".to_owned(),
            "1e-400".to_owned(),
            "-0".to_owned(),
            "1E+2".to_owned(),
            "18446744073709551616".to_owned(),
            long(299),
            long(300),
            long(308),
            long(309),
            format!("{}.5", long(309)),
            format!("0.{}", long(400)),
            format!("{}e-100", long(350)),
        ];
        for number in &numbers {
            for text in [
                format!(r#"{{"c": {number}}}"#),
                format!(r#"{{"z": [{{"y": {number}}}], "c": 1}}"#),
            ] {
                let ours = t.extract(&text, 1).map(drop);
                let serde = parse_context(&text).map(drop);
                assert_eq!(ours.is_ok(), serde.is_ok(), "{text}: {ours:?} vs {serde:?}");
            }
        }
    }

    #[test]
    fn string_stops_are_found_in_every_position() {
        for len in 0..20 {
            for stop in [b'"', b'\\', b'\n', 0x1f] {
                let mut bytes = vec![b'a'; len];
                bytes.extend_from_slice("é".as_bytes());
                let at = bytes.len();
                bytes.push(stop);
                bytes.extend_from_slice(b"\"xyz");
                assert_eq!(string_stop(&bytes, 0), at, "len {len} stop {stop}");
            }
            assert_eq!(string_stop(&vec![b'a'; len], 0), len);
        }
    }

    #[test]
    fn deep_nesting_is_refused() {
        let t = trie(&["a"]);
        let deep = format!("{{\"x\": {}{}}}", "[".repeat(200), "]".repeat(200));
        assert!(matches!(t.extract(&deep, 1), Err(ContextError::Syntax(_))));
    }

    #[test]
    fn the_nesting_limit_is_serdes() {
        // Nested containers around the limit, skipped and read, objects and
        // arrays: accepted exactly when serde_json accepts them.
        let read = trie(&[&["a"; 140].join(".")]);
        let skipped = trie(&["b"]);
        for n in 120..=132 {
            let objects = format!("{}1{}", "{\"a\": ".repeat(n), "}".repeat(n));
            let arrays = format!("{{\"a\": {}1{}}}", "[".repeat(n - 1), "]".repeat(n - 1));
            for text in [&objects, &arrays] {
                let serde = parse_context(text).is_ok();
                assert_eq!(read.extract(text, 1).is_ok(), serde, "read, {n} containers");
                assert_eq!(
                    skipped.extract(text, 1).is_ok(),
                    serde,
                    "skipped, {n} containers"
                );
            }
        }
    }

    #[test]
    fn many_children_are_found() {
        let keys: Vec<String> = (0..40).map(|i| format!("key-number-{i}")).collect();
        let paths: Vec<&str> = keys.iter().map(String::as_str).collect();
        let t = trie(&paths);
        let members: Vec<String> = keys
            .iter()
            .enumerate()
            .map(|(i, k)| format!("\"{k}\": {i}, \"x{k}\": 0, \"{}\": 1", &k[..3]))
            .collect();
        let got = t
            .extract(&format!("{{{}}}", members.join(", ")), 40)
            .unwrap()
            .to_json();
        for (i, value) in got.iter().enumerate() {
            assert_eq!(value, &Some(json!(i)), "{}", keys[i]);
        }
    }

    #[test]
    fn numbers_read_exactly() {
        for n in [
            "0",
            "-0",
            "7",
            "-42",
            "123456789012345",
            "1234567890123456789",
            "1.5",
            "-2e3",
            "1E-2",
            "52.517",
            "-13.389",
            "0.1",
            "-0.0",
            "0.000000000000001",
            "123456789.012345",
            "9007199254740.993",
            "1234567890.1234567",
        ] {
            let t = trie(&["n"]);
            let got = t.extract(&format!("{{\"n\": {n}}}"), 1).unwrap().to_json();
            let want: f64 = n.parse().unwrap();
            assert_eq!(got[0].as_ref().and_then(Value::as_f64), Some(want), "{n}");
        }
    }

    #[test]
    fn flat_arrays_read_like_serde() {
        let t = trie(&["tags", "tags.1", "deep.x"]);
        let cases = [
            r#"{"tags": []}"#,
            r#"{"tags": [ "a" , "b" ]}"#,
            r#"{"tags": ["a\"b", "\u00e9", "\ud83d\ude00", "x\ny"]}"#,
            r#"{"tags": [true, false, null, "t"]}"#,
            r#"{"tags": [0, -1, 7, 123456789012345, -123456789012345]}"#,
            r#"{"tags": [1234567890123456, 1.5, -0, 1e2, -0.0]}"#,
            r#"{"tags": [1, [2, "x"], {"k": 3}]}"#,
            r#"{"tags": [[]]}"#,
            r#"{"tags": ["a"], "tags": ["b", "c"]}"#,
            r#"{"tags": ["a", "b"], "tags": 1}"#,
            r#"{"tags": 1, "tags": ["a", "b"]}"#,
            r#"{"deep": {"x": ["a"]}, "deep": {"y": 1}}"#,
            r#"{"tags": ["a" "b"]}"#,
            r#"{"tags": ["a",]}"#,
            r#"{"tags": [1,]}"#,
            r#"{"tags": [,1]}"#,
            r#"{"tags": [tru]}"#,
            r#"{"tags": ["\q"]}"#,
            r#"{"tags": ["\ud83d"]}"#,
            r#"{"tags": [01]}"#,
            r#"{"tags": [1.]}"#,
            r#"{"tags": [-]}"#,
            r#"{"tags": ["a"}"#,
            r#"{"tags": ["a""#,
            r#"{"tags": ["#,
        ];
        for text in cases {
            let ours = t.extract(text, 3);
            let serde = parse_context(text);
            assert_eq!(ours.is_ok(), serde.is_ok(), "{text}: {ours:?} vs {serde:?}");
            if let Ok(full) = serde {
                let slots = ours.unwrap().to_json();
                // Exact equality: a number must also be of serde's kind
                // (unsigned, signed or float).
                assert_eq!(slots[0].as_ref(), full.get("tags"), "{text}");
                assert_eq!(slots[1].as_ref(), full.pointer("/tags/1"), "{text}");
                assert_eq!(slots[2].as_ref(), full.pointer("/deep/x"), "{text}");
            }
        }
        // Past the nesting limit, a flat array is refused like any other.
        let t = trie(&[&["a"; 126].join("."), &["a"; 128].join(".")]);
        for depth in [126, 127, 128] {
            let text = format!("{}[\"x\"]{}", "{\"a\": ".repeat(depth), "}".repeat(depth));
            let ours = t.extract(&text, 2);
            assert_eq!(ours.is_ok(), parse_context(&text).is_ok(), "depth {depth}");
        }
    }

    #[test]
    fn short_decimals_read_as_the_float_parser_reads_them() {
        // Digit strings of every length up to 15 with the point everywhere.
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..20_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let digits = format!("{seed}");
            let len = 1 + (seed % 15) as usize;
            let digits = &digits[..len.min(digits.len())];
            let point = (seed >> 20) as usize % (digits.len() + 1);
            let (whole, fraction) = digits.split_at(point);
            let whole = if whole.is_empty() {
                "0"
            } else {
                whole.trim_start_matches('0')
            };
            let whole = if whole.is_empty() { "0" } else { whole };
            let text = if fraction.is_empty() {
                whole.to_owned()
            } else {
                format!("{whole}.{fraction}")
            };
            let want: f64 = text.parse().unwrap();
            assert_eq!(parse_number(&text).to_bits(), want.to_bits(), "{text}");
            let negative = format!("-{text}");
            assert_eq!(
                parse_number(&negative).to_bits(),
                (-want).to_bits(),
                "{negative}"
            );
        }
    }

    #[test]
    fn escaped_keys_are_matched() {
        let t = trie(&["a\"b"]);
        let got = t.extract(r#"{"a\"b": 1, "c": 2}"#, 1).unwrap().to_json();
        assert_eq!(got, [Some(json!(1))]);
    }
}
