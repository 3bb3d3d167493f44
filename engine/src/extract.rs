//! Reading a request context from JSON text straight into slots, keeping
//! only the paths the rules read.
//!
//! A single-flag request needs a handful of values out of a context that may
//! have dozens of keys. [`PathTrie::extract`] scans the text once: members on
//! the trie's paths are parsed into their slots, everything else is skipped
//! by a validating scanner that allocates nothing, so malformed text is
//! still refused exactly as a full parse would refuse it.

use std::borrow::Cow;

use serde_json::Value;

use crate::context::SlotId;
use crate::logic::{Seg, Val};

/// Nesting limit, as serde_json's.
const MAX_DEPTH: usize = 128;

/// The set of paths to read, as a trie of keys whose nodes name slots.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PathTrie {
    /// Children sorted by key bytes.
    children: Vec<(Box<str>, PathTrie)>,
    /// Per child, its key's length and first eight bytes: most keys of a
    /// context are told apart from the wanted ones by these alone, in a
    /// linear scan that beats a binary search at these sizes.
    prints: Vec<(usize, u64)>,
    /// The slot this node's whole value goes to, if a path ends here.
    slot: Option<SlotId>,
    /// Position in depth-first order (see [`PathTrie::number`]), for
    /// noticing a repeated key.
    id: usize,
    /// Number of nodes in the trie (on the root only).
    nodes: usize,
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
    met: Vec<u64>,
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
    fn seen(&mut self, id: usize) -> bool {
        let (word, bit) = (id / 64, 1u64 << (id % 64));
        match self.met.get_mut(word) {
            Some(w) => {
                let before = *w & bit != 0;
                *w |= bit;
                before
            }
            None => false,
        }
    }

    fn set(&mut self, slot: SlotId, value: Option<Val<'t>>) {
        let index = slot.0 as usize;
        if self.composites.iter().any(|(s, _)| *s == index) {
            self.composites.retain(|(s, _)| *s != index);
        }
        if let Some(cell) = self.slots.get_mut(index) {
            *cell = value;
        }
    }

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
                    i
                }
            };
            node.prints = node
                .children
                .iter()
                .map(|(k, _)| print(k.as_bytes()))
                .collect();
            node = &mut node.children[i].1;
        }
        node.slot = Some(slot);
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
    /// (indexed by slot; `slot_count` long).
    pub fn extract<'t>(
        &self,
        text: &'t str,
        slot_count: usize,
    ) -> Result<Extracted<'t>, ContextError> {
        let mut out = Extracted {
            slots: vec![None; slot_count],
            composites: Vec::new(),
            met: vec![0; self.nodes.div_ceil(64)],
        };
        let mut scanner = Scanner {
            text,
            bytes: text.as_bytes(),
            pos: 0,
        };
        scanner.ws();
        if scanner.peek() != Some(b'{') {
            // Tell "not an object" from "not JSON" the way a full parse would.
            return Err(match serde_json::from_str::<serde::de::IgnoredAny>(text) {
                Ok(_) => ContextError::NotAnObject,
                Err(e) => ContextError::Syntax(e.to_string()),
            });
        }
        if self.children.is_empty() {
            // Nothing to read: only validate.
            scanner.skip(0)?;
        } else {
            scanner.object(Some(self), 0, &mut out)?;
        }
        scanner.ws();
        if scanner.pos != scanner.bytes.len() {
            return Err(scanner.error("trailing characters"));
        }
        Ok(out)
    }

    fn child(&self, key: &[u8]) -> Option<&PathTrie> {
        let wanted = print(key);
        self.prints
            .iter()
            .zip(&self.children)
            .find(|(p, (k, _))| {
                **p == wanted
                    && (key.len() <= 8
                        || crate::logic::eval::short_eq(&k.as_bytes()[8..], &key[8..]))
            })
            .map(|(_, (_, child))| child)
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

/// Reads a validated JSON number; plain integers of up to 15 digits (exact
/// in an f64) without the general float parser.
fn parse_number(span: &str) -> f64 {
    let (negative, digits) = match span.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, span),
    };
    if digits.len() <= 15 && digits.bytes().all(|b| b.is_ascii_digit()) {
        let value = digits
            .bytes()
            .fold(0u64, |n, b| n * 10 + u64::from(b - b'0'));
        // Exact: below 10^15 < 2^53.
        #[allow(clippy::cast_precision_loss)]
        let value = value as f64;
        return if negative { -value } else { value };
    }
    span.parse::<f64>().unwrap_or(f64::NAN)
}

/// A key's length and first eight bytes (zero-padded).
fn print(key: &[u8]) -> (usize, u64) {
    let word = match key.get(..8) {
        // A fixed-size copy: one load, no call into memmove.
        Some(head) => {
            let mut word = [0u8; 8];
            word.copy_from_slice(head);
            u64::from_le_bytes(word)
        }
        None => key
            .iter()
            .enumerate()
            .fold(0u64, |word, (i, &b)| word | (u64::from(b) << (8 * i))),
    };
    (key.len(), word)
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

struct Scanner<'t> {
    text: &'t str,
    bytes: &'t [u8],
    pos: usize,
}

impl<'t> Scanner<'t> {
    #[cold]
    #[inline(never)]
    fn error(&self, what: &str) -> ContextError {
        // Report like serde_json: line and column of the problem.
        let before = &self.bytes[..self.pos.min(self.bytes.len())];
        let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
        let column = before.iter().rev().take_while(|&&b| b != b'\n').count() + 1;
        ContextError::Syntax(format!("{what} at line {line} column {column}"))
    }

    #[inline(always)]
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    #[inline(always)]
    fn ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.peek() {
            self.pos += 1;
        }
    }

    #[inline(always)]
    fn eat(&mut self, byte: u8, what: &str) -> Result<(), ContextError> {
        self.ws();
        if self.peek() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.error(what))
        }
    }

    /// Scans an object at `pos` (which is `{`). Members on the trie are
    /// parsed into slots; with `trie == None` the object is only validated.
    fn object(
        &mut self,
        trie: Option<&PathTrie>,
        depth: usize,
        out: &mut Extracted<'t>,
    ) -> Result<(), ContextError> {
        if depth >= MAX_DEPTH {
            return Err(self.error("recursion limit exceeded"));
        }
        self.pos += 1;
        self.ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(());
        }
        loop {
            self.ws();
            if self.peek() != Some(b'"') {
                return Err(self.error("key must be a string"));
            }
            let child = match trie {
                Some(trie) if !trie.children.is_empty() => {
                    let (raw, escaped) = self.string()?;
                    if escaped {
                        let key: String = serde_json::from_str(raw)
                            .map_err(|e| ContextError::Syntax(e.to_string()))?;
                        trie.child(key.as_bytes())
                    } else {
                        trie.child(&raw.as_bytes()[1..raw.len() - 1])
                    }
                }
                _ => {
                    self.string()?;
                    None
                }
            };
            self.eat(b':', "expected `:`")?;
            self.ws();
            if let Some(node) = child
                && out.seen(node.id)
            {
                // A repeated key replaces the earlier member, as in a full
                // parse: forget what the earlier one filled in.
                node.clear(out);
            }
            match child {
                // A scalar on a path's end: read it in place.
                Some(node) if node.slot.is_some() && !matches!(self.peek(), Some(b'{' | b'[')) => {
                    let raw = self.scalar()?;
                    if let Some(slot) = node.slot {
                        out.set(slot, Some(raw));
                    }
                }
                // A path ends here with an array or object, or goes on into
                // an array: parse the value and fill the slots from it.
                Some(node) if node.slot.is_some() || self.peek() == Some(b'[') => {
                    let start = self.pos;
                    self.skip(depth + 1)?;
                    let value: Value = serde_json::from_str(&self.text[start..self.pos])
                        .map_err(|e| ContextError::Syntax(e.to_string()))?;
                    node.fill(value, out);
                }
                Some(node) if self.peek() == Some(b'{') => {
                    self.object(Some(node), depth + 1, out)?
                }
                _ => self.skip(depth + 1)?,
            }
            self.ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(());
                }
                _ => return Err(self.error("expected `,` or `}`")),
            }
        }
    }

    /// Validates and skips one value, iteratively: the containers it opens
    /// are tracked one bit each (object or array), so skipping costs no call
    /// per token.
    fn skip(&mut self, depth: usize) -> Result<(), ContextError> {
        const OBJECT: u128 = 1;
        let mut stack: u128 = 0;
        let mut open = 0usize;
        'value: loop {
            self.ws();
            match self.peek() {
                Some(b'{') => {
                    if depth + open >= MAX_DEPTH {
                        return Err(self.error("recursion limit exceeded"));
                    }
                    self.pos += 1;
                    self.ws();
                    if self.peek() == Some(b'}') {
                        self.pos += 1;
                    } else {
                        stack = (stack << 1) | OBJECT;
                        open += 1;
                        self.key()?;
                        continue 'value;
                    }
                }
                Some(b'[') => {
                    if depth + open >= MAX_DEPTH {
                        return Err(self.error("recursion limit exceeded"));
                    }
                    self.pos += 1;
                    self.ws();
                    if self.peek() == Some(b']') {
                        self.pos += 1;
                    } else {
                        stack <<= 1;
                        open += 1;
                        continue 'value;
                    }
                }
                Some(b'"') => {
                    self.string()?;
                }
                Some(b't') => self.literal(b"true")?,
                Some(b'f') => self.literal(b"false")?,
                Some(b'n') => self.literal(b"null")?,
                Some(b'-' | b'0'..=b'9') => self.number()?,
                Some(_) => return Err(self.error("expected value")),
                None => return Err(self.error("EOF while parsing a value")),
            }
            // After a value: a comma continues the innermost container, a
            // closing bracket ends it.
            loop {
                if open == 0 {
                    return Ok(());
                }
                self.ws();
                let in_object = stack & OBJECT != 0;
                match self.peek() {
                    Some(b',') => {
                        self.pos += 1;
                        if in_object {
                            self.key()?;
                        }
                        continue 'value;
                    }
                    Some(b'}') if in_object => {}
                    Some(b']') if !in_object => {}
                    _ if in_object => return Err(self.error("expected `,` or `}`")),
                    _ => return Err(self.error("expected `,` or `]`")),
                }
                self.pos += 1;
                stack >>= 1;
                open -= 1;
            }
        }
    }

    /// Skips an object key and its colon.
    #[inline(always)]
    fn key(&mut self) -> Result<(), ContextError> {
        self.ws();
        if self.peek() != Some(b'"') {
            return Err(self.error("key must be a string"));
        }
        self.string()?;
        self.eat(b':', "expected `:`")
    }

    /// Scans a string at `pos` (which is `"`); returns its raw text with
    /// quotes and whether it has escapes.
    #[inline(always)]
    fn string(&mut self) -> Result<(&'t str, bool), ContextError> {
        let start = self.pos;
        self.pos += 1;
        let mut escaped = false;
        loop {
            // Jump to the next quote, backslash or control character;
            // everything before it is plain content.
            self.pos = string_stop(self.bytes, self.pos);
            match self.peek() {
                Some(b'"' | b'\\') => {}
                Some(_) => return Err(self.error("control character in string")),
                None => return Err(self.error("EOF while parsing a string")),
            }
            if self.bytes[self.pos] == b'"' {
                self.pos += 1;
                return Ok((&self.text[start..self.pos], escaped));
            }
            escaped = true;
            self.pos += 1;
            match self.peek() {
                Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => self.pos += 1,
                Some(b'u') => {
                    let unit = self.hex4(self.pos + 1)?;
                    self.pos += 5;
                    // Surrogates must pair up, as serde_json requires.
                    if (0xD800..0xDC00).contains(&unit) {
                        let low = match self.bytes.get(self.pos..self.pos + 2) {
                            Some(b"\\u") => self.hex4(self.pos + 2)?,
                            _ => return Err(self.error("lone leading surrogate in hex escape")),
                        };
                        if !(0xDC00..0xE000).contains(&low) {
                            return Err(self.error("lone leading surrogate in hex escape"));
                        }
                        self.pos += 6;
                    } else if (0xDC00..0xE000).contains(&unit) {
                        return Err(self.error("lone trailing surrogate in hex escape"));
                    }
                }
                _ => return Err(self.error("invalid escape")),
            }
        }
    }

    /// Reads a scalar value in place (strings without escapes borrow the
    /// text).
    fn scalar(&mut self) -> Result<Val<'t>, ContextError> {
        match self.peek() {
            Some(b'"') => {
                let (raw, escaped) = self.string()?;
                if escaped {
                    serde_json::from_str(raw)
                        .map(|s: String| Val::Str(Cow::Owned(s)))
                        .map_err(|e| ContextError::Syntax(e.to_string()))
                } else {
                    Ok(Val::Str(Cow::Borrowed(&raw[1..raw.len() - 1])))
                }
            }
            Some(b't') => self.literal(b"true").map(|()| Val::Bool(true)),
            Some(b'f') => self.literal(b"false").map(|()| Val::Bool(false)),
            Some(b'n') => self.literal(b"null").map(|()| Val::Null),
            Some(b'-' | b'0'..=b'9') => {
                let start = self.pos;
                self.number()?;
                let span = &self.text[start..self.pos];
                Ok(Val::Num(parse_number(span)))
            }
            Some(_) => Err(self.error("expected value")),
            None => Err(self.error("EOF while parsing a value")),
        }
    }

    /// Reads four hex digits at `at`.
    fn hex4(&self, at: usize) -> Result<u32, ContextError> {
        let digits = self
            .bytes
            .get(at..at + 4)
            .ok_or_else(|| self.error("invalid unicode escape"))?;
        let mut unit = 0;
        for &d in digits {
            let v = char::from(d)
                .to_digit(16)
                .ok_or_else(|| self.error("invalid unicode escape"))?;
            unit = unit * 16 + v;
        }
        Ok(unit)
    }

    #[inline]
    fn literal(&mut self, word: &[u8]) -> Result<(), ContextError> {
        if self.bytes.get(self.pos..self.pos + word.len()) == Some(word) {
            self.pos += word.len();
            Ok(())
        } else {
            Err(self.error("expected value"))
        }
    }

    #[inline]
    fn number(&mut self) -> Result<(), ContextError> {
        let digits = |s: &mut Self| {
            let start = s.pos;
            while let Some(b'0'..=b'9') = s.peek() {
                s.pos += 1;
            }
            s.pos > start
        };
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => {
                digits(self);
            }
            _ => return Err(self.error("invalid number")),
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if !digits(self) {
                return Err(self.error("invalid number"));
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            if !digits(self) {
                return Err(self.error("invalid number"));
            }
        }
        Ok(())
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
        ] {
            let t = trie(&["n"]);
            let got = t.extract(&format!("{{\"n\": {n}}}"), 1).unwrap().to_json();
            let want: f64 = n.parse().unwrap();
            assert_eq!(got[0].as_ref().and_then(Value::as_f64), Some(want), "{n}");
        }
    }

    #[test]
    fn escaped_keys_are_matched() {
        let t = trie(&["a\"b"]);
        let got = t.extract(r#"{"a\"b": 1, "c": 2}"#, 1).unwrap().to_json();
        assert_eq!(got, [Some(json!(1))]);
    }
}
