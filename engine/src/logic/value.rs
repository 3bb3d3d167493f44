//! The value type of JSONLogic evaluation and its truthiness and coercion rules.
//!
//! Values borrow from the compiled rule and from the request context wherever
//! they can, so evaluating a rule allocates only when an operator builds a new
//! string or array.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::fmt::{self, Write as _};

use serde_json::Value;

/// A value produced while evaluating a rule.
///
/// Scalars are always held in their own variants (a borrowed JSON scalar is
/// unpacked when it is read), so `Json` holds only arrays and objects.
#[derive(Debug, Clone, PartialEq)]
pub enum Val<'a> {
    /// JSON `null`, also the result of a missing variable.
    Null,
    /// A boolean.
    Bool(bool),
    /// A number; JSONLogic, like JavaScript, has one number type.
    Num(f64),
    /// A string, borrowed from the rule or the context, or built.
    Str(Cow<'a, str>),
    /// An array built during evaluation (`map`, `filter`, `merge`, ...).
    Arr(Vec<Val<'a>>),
    /// An array or object borrowed from the rule or the context.
    Json(&'a Value),
}

impl<'a> Val<'a> {
    /// Reads a borrowed JSON value, unpacking scalars.
    pub fn from_json(value: &'a Value) -> Self {
        match value {
            Value::Null => Val::Null,
            Value::Bool(b) => Val::Bool(*b),
            Value::Number(n) => Val::Num(n.as_f64().unwrap_or(f64::NAN)),
            Value::String(s) => Val::Str(Cow::Borrowed(s)),
            Value::Array(_) | Value::Object(_) => Val::Json(value),
        }
    }

    /// A copy of this value that borrows what this one owns (strings), so
    /// reading a prepared slot never copies text.
    pub fn reborrow(&self) -> Val<'_> {
        match self {
            Val::Null => Val::Null,
            Val::Bool(b) => Val::Bool(*b),
            Val::Num(n) => Val::Num(*n),
            Val::Str(s) => Val::Str(Cow::Borrowed(s)),
            Val::Arr(items) => Val::Arr(items.iter().map(Val::reborrow).collect()),
            Val::Json(v) => Val::Json(v),
        }
    }

    /// Builds an owned JSON value (for results handed out of the engine).
    pub fn to_json(&self) -> Value {
        match self {
            Val::Null => Value::Null,
            Val::Bool(b) => Value::Bool(*b),
            Val::Num(n) => num_to_json(*n),
            Val::Str(s) => Value::String(s.to_string()),
            Val::Arr(items) => Value::Array(items.iter().map(Val::to_json).collect()),
            Val::Json(v) => (*v).clone(),
        }
    }

    /// The JSON of the value as a trace shows it: in full when it is small
    /// (at most 256 elements and string bytes in all), else a summary, so
    /// that a trace stays small whatever the rule builds or reads.
    pub fn to_trace_json(&self) -> Value {
        const SHOWN: usize = 64;
        let mut room = 256;
        if self.fits(&mut room) {
            return self.to_json();
        }
        match self {
            Val::Str(s) => Value::String(format!("{}…", s.chars().take(SHOWN).collect::<String>())),
            Val::Arr(items) => Value::String(format!("(an array of {} elements)", items.len())),
            Val::Json(Value::Array(items)) => {
                Value::String(format!("(an array of {} elements)", items.len()))
            }
            Val::Json(Value::Object(map)) => {
                Value::String(format!("(an object of {} members)", map.len()))
            }
            other => other.to_json(),
        }
    }

    /// Whether the value's elements and string bytes fit in `room`, which
    /// is spent as they are counted (so counting costs at most `room`).
    fn fits(&self, room: &mut usize) -> bool {
        fn spend(room: &mut usize, n: usize) -> bool {
            match room.checked_sub(n) {
                Some(left) => {
                    *room = left;
                    true
                }
                None => false,
            }
        }
        fn json_fits(value: &Value, room: &mut usize) -> bool {
            spend(room, 1)
                && match value {
                    Value::String(s) => spend(room, s.len()),
                    Value::Array(items) => items.iter().all(|item| json_fits(item, room)),
                    Value::Object(map) => map
                        .iter()
                        .all(|(k, v)| spend(room, k.len()) && json_fits(v, room)),
                    _ => true,
                }
        }
        match self {
            Val::Str(s) => spend(room, 1 + s.len()),
            Val::Arr(items) => spend(room, 1) && items.iter().all(|item| item.fits(room)),
            Val::Json(value) => json_fits(value, room),
            _ => spend(room, 1),
        }
    }

    /// Detaches the value from the lifetimes it borrows.
    pub fn into_owned(self) -> Val<'static> {
        match self {
            Val::Null => Val::Null,
            Val::Bool(b) => Val::Bool(b),
            Val::Num(n) => Val::Num(n),
            Val::Str(s) => Val::Str(Cow::Owned(s.into_owned())),
            Val::Arr(items) => Val::Arr(items.into_iter().map(Val::into_owned).collect()),
            Val::Json(v) => match v {
                Value::Array(items) => Val::Arr(
                    items
                        .iter()
                        .map(|v| Val::from_json(v).into_owned())
                        .collect(),
                ),
                // Objects have no owned variant; rules never build objects, and
                // the callers that need one (reduce accumulators) take the JSON.
                _ => Val::Str(Cow::Owned(v.to_string())),
            },
        }
    }

    /// JSONLogic truthiness, which is JavaScript's except that an empty array
    /// is false.
    pub fn truthy(&self) -> bool {
        match self {
            Val::Null => false,
            Val::Bool(b) => *b,
            Val::Num(n) => *n != 0.0 && !n.is_nan(),
            Val::Str(s) => !s.is_empty(),
            Val::Arr(items) => !items.is_empty(),
            Val::Json(Value::Array(items)) => !items.is_empty(),
            Val::Json(_) => true,
        }
    }

    /// The string, if this value is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Val::Str(s) => Some(s),
            _ => None,
        }
    }

    /// Whether the value is an array (built or borrowed).
    pub fn is_array(&self) -> bool {
        matches!(self, Val::Arr(_) | Val::Json(Value::Array(_)))
    }

    /// The elements of an array value, or `None` for anything else.
    pub fn array_items(&self) -> Option<ArrayItems<'_, 'a>> {
        match self {
            Val::Arr(items) => Some(ArrayItems::Built(items.iter())),
            Val::Json(Value::Array(items)) => Some(ArrayItems::Borrowed(items.iter())),
            _ => None,
        }
    }

    /// The number of elements of an array value.
    pub fn array_len(&self) -> Option<usize> {
        match self {
            Val::Arr(items) => Some(items.len()),
            Val::Json(Value::Array(items)) => Some(items.len()),
            _ => None,
        }
    }

    /// JavaScript's `Number(value)`: the numeric reading used by arithmetic
    /// and by comparisons with a number.
    pub fn to_number(&self) -> f64 {
        match self {
            Val::Null => 0.0,
            Val::Bool(b) => f64::from(u8::from(*b)),
            Val::Num(n) => *n,
            Val::Str(s) => str_to_number(s),
            Val::Arr(_) | Val::Json(Value::Array(_)) => {
                // Number([]) is 0, Number([x]) is Number(String(x)), else NaN.
                match self.array_len() {
                    Some(0) => 0.0,
                    Some(1) => str_to_number(&self.to_js_string()),
                    _ => f64::NAN,
                }
            }
            Val::Json(_) => f64::NAN,
        }
    }

    /// JavaScript's `String(value)`, used by `cat`, `in` and comparisons of
    /// mixed types.
    pub fn to_js_string(&self) -> String {
        let mut out = String::new();
        self.write_js_string(&mut out);
        out
    }

    /// Appends JavaScript's `String(value)` to `out` unless that would make
    /// `out` longer than `max` bytes: then returns false, having stopped
    /// early (what was appended so far stays). Arrays are rendered element
    /// by element, so a rendering that exceeds `max` costs at most `max`.
    pub fn write_js_string_within(&self, out: &mut String, max: usize) -> bool {
        fn push(out: &mut String, s: &str, max: usize) -> bool {
            if out.len() + s.len() > max {
                return false;
            }
            out.push_str(s);
            true
        }
        match self {
            Val::Str(s) => push(out, s, max),
            Val::Arr(items) => items.iter().enumerate().all(|(i, item)| {
                (i == 0 || push(out, ",", max))
                    && (matches!(item, Val::Null) || item.write_js_string_within(out, max))
            }),
            Val::Json(Value::Array(items)) => items.iter().enumerate().all(|(i, item)| {
                (i == 0 || push(out, ",", max))
                    && (item.is_null() || Val::from_json(item).write_js_string_within(out, max))
            }),
            Val::Json(Value::String(s)) => push(out, s, max),
            // Scalars and objects render to a few bytes.
            other => {
                other.write_js_string(out);
                out.len() <= max
            }
        }
    }

    /// Appends JavaScript's `String(value)` to `out`.
    pub fn write_js_string(&self, out: &mut String) {
        match self {
            Val::Null => out.push_str("null"),
            Val::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Val::Num(n) => push_js_number(out, *n),
            Val::Str(s) => out.push_str(s),
            Val::Arr(items) => {
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    // Inside an array, null renders as the empty string.
                    if !matches!(item, Val::Null) {
                        item.write_js_string(out);
                    }
                }
            }
            Val::Json(Value::Array(items)) => {
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    if !item.is_null() {
                        Val::from_json(item).write_js_string(out);
                    }
                }
            }
            Val::Json(_) => out.push_str("[object Object]"),
        }
    }
}

/// Iterator over the elements of an array value.
#[derive(Debug)]
pub enum ArrayItems<'v, 'a> {
    /// Elements of a built array.
    Built(std::slice::Iter<'v, Val<'a>>),
    /// Elements of a borrowed JSON array.
    Borrowed(std::slice::Iter<'a, Value>),
}

impl<'a> Iterator for ArrayItems<'_, 'a> {
    type Item = Val<'a>;

    fn next(&mut self) -> Option<Val<'a>> {
        match self {
            ArrayItems::Built(it) => it.next().cloned(),
            ArrayItems::Borrowed(it) => it.next().map(Val::from_json),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match self {
            ArrayItems::Built(it) => it.size_hint(),
            ArrayItems::Borrowed(it) => it.size_hint(),
        }
    }
}

/// Converts an f64 to a JSON number, as an integer when it is one.
pub fn num_to_json(n: f64) -> Value {
    if n.fract() == 0.0 && n.abs() < 9.007_199_254_740_992e15 {
        // Exact: |n| < 2^53, so the cast loses nothing.
        #[allow(clippy::cast_possible_truncation)]
        Value::from(n as i64)
    } else {
        serde_json::Number::from_f64(n).map_or(Value::Null, Value::Number)
    }
}

/// JavaScript's `Number(string)`: trimmed, empty is 0, otherwise a decimal
/// literal (or Infinity) or NaN.
pub fn str_to_number(s: &str) -> f64 {
    let t = s.trim();
    if t.is_empty() {
        return 0.0;
    }
    match t {
        "Infinity" | "+Infinity" => return f64::INFINITY,
        "-Infinity" => return f64::NEG_INFINITY,
        _ => {}
    }
    // Radix literals (no sign allowed, as in JavaScript).
    let radix = match t.get(..2) {
        Some("0x" | "0X") => Some(16),
        Some("0b" | "0B") => Some(2),
        Some("0o" | "0O") => Some(8),
        _ => None,
    };
    if let Some(radix) = radix {
        let digits = &t[2..];
        if digits.is_empty() {
            return f64::NAN;
        }
        let mut value = 0.0f64;
        for c in digits.chars() {
            match c.to_digit(radix) {
                Some(d) => value = value * f64::from(radix) + f64::from(d),
                None => return f64::NAN,
            }
        }
        return value;
    }
    // Rust's parser accepts "inf" and "nan", which JavaScript does not.
    if t.bytes()
        .any(|b| b.is_ascii_alphabetic() && b != b'e' && b != b'E')
    {
        return f64::NAN;
    }
    t.parse::<f64>().unwrap_or(f64::NAN)
}

/// Appends a number the way JavaScript prints it (integers without a
/// fractional part).
pub fn push_js_number(out: &mut String, n: f64) {
    // Writing into a String cannot fail.
    let _ = write_js_number(out, n);
}

/// Writes a number the way JavaScript prints it.
fn write_js_number(out: &mut impl fmt::Write, n: f64) -> fmt::Result {
    if n.is_nan() {
        out.write_str("NaN")
    } else if n.is_infinite() {
        out.write_str(if n > 0.0 { "Infinity" } else { "-Infinity" })
    } else if n == 0.0 {
        // Both zeros print as "0".
        out.write_str("0")
    } else if n.abs() >= 1e21 || n.abs() < 1e-6 {
        // JavaScript switches to exponent form outside [1e-6, 1e21), with an
        // explicit sign on the exponent: 1e+21, 1.5e-7.
        let mut formatted = NumberText::EMPTY;
        write!(formatted, "{n:e}")?;
        match formatted.as_str().split_once('e') {
            Some((mantissa, exponent)) if !exponent.starts_with('-') => {
                write!(out, "{mantissa}e+{exponent}")
            }
            _ => out.write_str(formatted.as_str()),
        }
    } else if n.fract() == 0.0 {
        write!(out, "{n:.0}")
    } else {
        write!(out, "{n}")
    }
}

/// A number printed as JavaScript prints it, held inline.
#[derive(Clone, Copy)]
pub(crate) struct NumberText {
    bytes: [u8; NumberText::CAPACITY],
    len: u8,
}

impl NumberText {
    /// Room for the longest printed `f64` ("-1.7976931348623157e+308", or
    /// 21 integer digits, or six leading zeros and 17 significant digits
    /// after the point) with a margin.
    const CAPACITY: usize = 64;

    const EMPTY: NumberText = NumberText {
        bytes: [0; NumberText::CAPACITY],
        len: 0,
    };

    /// `n` printed; `None` only if it did not fit, which no `f64` does.
    pub(crate) fn of(n: f64) -> Option<NumberText> {
        let mut text = NumberText::EMPTY;
        write_js_number(&mut text, n).ok()?;
        Some(text)
    }

    pub(crate) fn as_str(&self) -> &str {
        // Only whole `str`s are written, so the bytes are UTF-8.
        std::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or_default()
    }
}

impl fmt::Debug for NumberText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Write for NumberText {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let start = usize::from(self.len);
        let end = start + s.len();
        let room = self.bytes.get_mut(start..end).ok_or(fmt::Error)?;
        room.copy_from_slice(s.as_bytes());
        self.len = u8::try_from(end).map_err(|_| fmt::Error)?;
        Ok(())
    }
}

/// JavaScript's loose equality (`==`).
pub fn loose_eq(a: &Val<'_>, b: &Val<'_>) -> bool {
    use Val::*;
    match (a, b) {
        (Null, Null) => true,
        (Null, _) | (_, Null) => false,
        (Num(x), Num(y)) => x == y,
        (Str(x), Str(y)) => x == y,
        (Bool(x), Bool(y)) => x == y,
        (Num(x), Str(s)) | (Str(s), Num(x)) => *x == str_to_number(s),
        (Bool(x), other) | (other, Bool(x)) => loose_eq(&Num(f64::from(u8::from(*x))), other),
        // Two arrays or objects are equal only when they are the same object:
        // the same borrowed value (two reads of one context member), never a
        // built one.
        (Json(x), Json(y)) => std::ptr::eq(*x, *y),
        (Arr(_) | Json(_), Arr(_) | Json(_)) => false,
        // An object compared with a primitive is converted to a primitive.
        (obj @ (Arr(_) | Json(_)), prim) | (prim, obj @ (Arr(_) | Json(_))) => {
            let as_prim = Str(Cow::Owned(obj.to_js_string()));
            loose_eq(&as_prim, prim)
        }
    }
}

/// JavaScript's strict equality (`===`).
pub fn strict_eq(a: &Val<'_>, b: &Val<'_>) -> bool {
    use Val::*;
    match (a, b) {
        (Null, Null) => true,
        (Num(x), Num(y)) => x == y,
        (Str(x), Str(y)) => x == y,
        (Bool(x), Bool(y)) => x == y,
        (Json(x), Json(y)) => std::ptr::eq(*x, *y),
        _ => false,
    }
}

/// JavaScript's relational comparison (`<` and friends): two strings compare
/// by code unit, anything else numerically. `None` means the comparison is
/// false whichever way it is asked (a NaN was involved).
pub fn js_compare(a: &Val<'_>, b: &Val<'_>) -> Option<Ordering> {
    // Arrays and objects compare through their string form.
    let rendered_a;
    let rendered_b;
    let str_a: Option<&str> = match a {
        Val::Str(s) => Some(s),
        Val::Arr(_) | Val::Json(_) => {
            rendered_a = a.to_js_string();
            Some(&rendered_a)
        }
        _ => None,
    };
    let str_b: Option<&str> = match b {
        Val::Str(s) => Some(s),
        Val::Arr(_) | Val::Json(_) => {
            rendered_b = b.to_js_string();
            Some(&rendered_b)
        }
        _ => None,
    };
    match (str_a, str_b) {
        (Some(x), Some(y)) => Some(cmp_utf16(x, y)),
        _ => {
            let x = str_a.map_or_else(|| a.to_number(), str_to_number);
            let y = str_b.map_or_else(|| b.to_number(), str_to_number);
            x.partial_cmp(&y)
        }
    }
}

/// Compares two strings by UTF-16 code units, as JavaScript does. For text
/// without characters outside the Basic Multilingual Plane this equals byte
/// order, which is the fast path.
pub fn cmp_utf16(a: &str, b: &str) -> Ordering {
    if a.is_ascii() && b.is_ascii() {
        return a.cmp(b);
    }
    a.encode_utf16().cmp(b.encode_utf16())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check_number(input: &str, expect: f64) {
        let got = str_to_number(input);
        if expect.is_nan() {
            assert!(got.is_nan(), "{input:?} gave {got}");
        } else {
            assert_eq!(got, expect, "{input:?}");
        }
    }

    #[test]
    fn number_parsing_follows_javascript() {
        check_number("", 0.0);
        check_number("  12 ", 12.0);
        check_number("1e3", 1000.0);
        check_number("-0.5", -0.5);
        check_number("abc", f64::NAN);
        check_number("inf", f64::NAN);
        check_number("Infinity", f64::INFINITY);
        check_number("0x10", 16.0);
        check_number("0b11", 3.0);
        check_number("0o17", 15.0);
        check_number("-0x10", f64::NAN);
        check_number("0x", f64::NAN);
    }

    #[test]
    fn truthiness() {
        let empty = Value::Array(vec![]);
        let obj = serde_json::json!({});
        assert!(!Val::Null.truthy());
        assert!(!Val::Num(0.0).truthy());
        assert!(!Val::Num(f64::NAN).truthy());
        assert!(!Val::Str(Cow::Borrowed("")).truthy());
        assert!(Val::Str(Cow::Borrowed("0")).truthy());
        assert!(!Val::Json(&empty).truthy());
        assert!(Val::Json(&obj).truthy());
        assert!(!Val::Arr(vec![]).truthy());
    }

    #[test]
    fn loose_equality_coerces() {
        let s = |x: &'static str| Val::Str(Cow::Borrowed(x));
        assert!(loose_eq(&Val::Num(1.0), &s("1")));
        assert!(loose_eq(&Val::Bool(true), &Val::Num(1.0)));
        assert!(loose_eq(&Val::Bool(false), &s("0")));
        assert!(!loose_eq(&Val::Null, &Val::Num(0.0)));
        assert!(!strict_eq(&Val::Num(1.0), &s("1")));
        assert!(loose_eq(&Val::Arr(vec![Val::Num(1.0)]), &Val::Num(1.0)));
    }

    #[test]
    fn js_strings() {
        assert_eq!(Val::Num(1.0).to_js_string(), "1");
        assert_eq!(Val::Num(1.5).to_js_string(), "1.5");
        assert_eq!(Val::Num(-0.0).to_js_string(), "0");
        assert_eq!(Val::Num(1e21).to_js_string(), "1e+21");
        assert_eq!(Val::Num(-1.5e-7).to_js_string(), "-1.5e-7");
        assert_eq!(Val::Num(1e-6).to_js_string(), "0.000001");
        assert_eq!(
            Val::Arr(vec![Val::Num(1.0), Val::Null, Val::Bool(true)]).to_js_string(),
            "1,,true"
        );
    }

    #[test]
    fn comparison_of_mixed_types() {
        let s = |x: &'static str| Val::Str(Cow::Borrowed(x));
        assert_eq!(js_compare(&s("10"), &s("9")), Some(Ordering::Less));
        assert_eq!(
            js_compare(&Val::Num(10.0), &s("9")),
            Some(Ordering::Greater)
        );
        assert_eq!(js_compare(&s("a"), &Val::Num(1.0)), None);
        assert_eq!(
            js_compare(&Val::Null, &Val::Num(0.0)),
            Some(Ordering::Equal)
        );
    }
}
