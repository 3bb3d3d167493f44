//! The deterministic CBOR encoding `fractional` v3 hashes a bucketing value
//! as, written into any sink: a hasher, or a buffer in tests.

use serde_json::Value;

use super::murmur3::Murmur3;
use crate::logic::value::Val;

/// The hash `fractional` v3 buckets a JSON value by: MurmurHash3 x86 32-bit
/// (seed 0) of the value's deterministic CBOR encoding (whole numbers as
/// integers, floats in their shortest exact form, map keys in length-first
/// order), streamed into the hash without building the encoding. `None` for
/// a number the encoding cannot hold.
pub fn cbor_murmur3(value: &Value) -> Option<u32> {
    let mut hasher = Murmur3::new(0);
    cbor_json(&mut hasher, value)?;
    Some(hasher.finish())
}

/// [`cbor_murmur3`] of a JSON string, for a caller that holds a `&str`.
pub fn cbor_murmur3_str(text: &str) -> u32 {
    let mut hasher = Murmur3::new(0);
    cbor_text(&mut hasher, text);
    hasher.finish()
}

/// Where the CBOR encoder writes.
pub(super) trait Sink {
    fn put(&mut self, bytes: &[u8]);
}

impl Sink for Murmur3 {
    fn put(&mut self, bytes: &[u8]) {
        self.write(bytes);
    }
}

impl Sink for Vec<u8> {
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

pub(super) const MAJOR_UINT: u8 = 0;
pub(super) const MAJOR_NINT: u8 = 1;
pub(super) const MAJOR_TEXT: u8 = 3;
pub(super) const MAJOR_ARRAY: u8 = 4;
pub(super) const MAJOR_MAP: u8 = 5;
pub(super) const FALSE: u8 = 0xf4;
pub(super) const TRUE: u8 = 0xf5;
pub(super) const NULL: u8 = 0xf6;
pub(super) const FLOAT16: u8 = 0xf9;
pub(super) const FLOAT32: u8 = 0xfa;
pub(super) const FLOAT64: u8 = 0xfb;

/// A CBOR head with the argument in its shortest form.
#[allow(clippy::cast_possible_truncation)]
#[inline(always)]
pub(super) fn cbor_head(out: &mut impl Sink, major: u8, arg: u64) {
    let m = major << 5;
    match arg {
        0..=23 => out.put(&[m | arg as u8]),
        24..=0xff => out.put(&[m | 24, arg as u8]),
        0x100..=0xffff => {
            let [a, b] = (arg as u16).to_be_bytes();
            out.put(&[m | 25, a, b]);
        }
        0x1_0000..=0xffff_ffff => {
            let [a, b, c, d] = (arg as u32).to_be_bytes();
            out.put(&[m | 26, a, b, c, d]);
        }
        _ => {
            out.put(&[m | 27]);
            out.put(&arg.to_be_bytes());
        }
    }
}

#[inline]
pub(super) fn cbor_text(out: &mut impl Sink, s: &str) {
    cbor_head(out, MAJOR_TEXT, s.len() as u64);
    out.put(s.as_bytes());
}

pub(super) fn cbor_int(out: &mut impl Sink, i: i64) {
    if i >= 0 {
        cbor_head(out, MAJOR_UINT, i.unsigned_abs());
    } else {
        // -1 - i, which for a negative i is its bitwise complement.
        cbor_head(out, MAJOR_NINT, (!i).unsigned_abs());
    }
}

/// 2^63 and 2^64 as floats (both exact).
pub(super) const TWO_POW_63: f64 = 9_223_372_036_854_775_808.0;
pub(super) const TWO_POW_64: f64 = 18_446_744_073_709_551_616.0;

/// A number: whole numbers in the i64 or u64 range as integers (so `1.0`,
/// `1` and `-0.0`/`0` hash alike), others as the shortest float that holds
/// the value exactly. `None` for NaN and infinities.
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
pub(super) fn cbor_f64(out: &mut impl Sink, f: f64) -> Option<()> {
    if !f.is_finite() {
        return None;
    }
    if f.fract() == 0.0 {
        // Whole and in range, so the casts are exact.
        if (-TWO_POW_63..TWO_POW_63).contains(&f) {
            cbor_int(out, f as i64);
            return Some(());
        } else if (0.0..TWO_POW_64).contains(&f) {
            cbor_head(out, MAJOR_UINT, f as u64);
            return Some(());
        }
    }
    if let Some(half) = f16_bits_exact(f) {
        let [a, b] = half.to_be_bytes();
        out.put(&[FLOAT16, a, b]);
    } else if let Some(single) = f32_bits_exact(f) {
        let [a, b, c, d] = single.to_be_bytes();
        out.put(&[FLOAT32, a, b, c, d]);
    } else {
        out.put(&[FLOAT64]);
        out.put(&f.to_bits().to_be_bytes());
    }
    Some(())
}

/// The IEEE binary16 encoding of a finite `f`, if it holds `f` exactly.
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
pub(super) fn f16_bits_exact(f: f64) -> Option<u16> {
    let bits = f.to_bits();
    let sign = ((bits >> 48) & 0x8000) as u16;
    let biased = ((bits >> 52) & 0x7ff) as i32;
    let frac = bits & ((1 << 52) - 1);
    if biased == 0 {
        // Zero, or an f64 subnormal (far below the f16 range).
        return (frac == 0).then_some(sign);
    }
    let exp = biased - 1023;
    if (-14..=15).contains(&exp) {
        // Normal: 10 fraction bits.
        (frac & ((1 << 42) - 1) == 0)
            .then(|| sign | (((exp + 15) as u16) << 10) | (frac >> 42) as u16)
    } else if (-24..-14).contains(&exp) {
        // Subnormal: the value is k * 2^-24 with k < 1024.
        let mantissa = frac | (1 << 52);
        let shift = (28 - exp) as u32;
        (mantissa & ((1 << shift) - 1) == 0).then(|| sign | (mantissa >> shift) as u16)
    } else {
        None
    }
}

/// The IEEE binary32 encoding of a finite `f`, if it holds `f` exactly.
pub(super) fn f32_bits_exact(f: f64) -> Option<u32> {
    #[allow(clippy::cast_possible_truncation)]
    let single = f as f32;
    (f64::from(single).to_bits() == f.to_bits()).then(|| single.to_bits())
}

/// Encodes an evaluation value; `None` if it holds a non-finite number.
pub(super) fn cbor_val(out: &mut impl Sink, v: &Val<'_>) -> Option<()> {
    match v {
        Val::Null => out.put(&[NULL]),
        Val::Bool(b) => out.put(&[if *b { TRUE } else { FALSE }]),
        Val::Num(n) => cbor_f64(out, *n)?,
        Val::Str(s) => cbor_text(out, s),
        Val::Arr(items) => {
            cbor_head(out, MAJOR_ARRAY, items.len() as u64);
            for item in items {
                cbor_val(out, item)?;
            }
        }
        Val::Json(json) => cbor_json(out, json)?,
    }
    Some(())
}

/// Encodes a JSON value, map keys sorted by length, then bytewise (RFC 8949
/// length-first deterministic order).
pub(super) fn cbor_json(out: &mut impl Sink, v: &Value) -> Option<()> {
    match v {
        Value::Null => out.put(&[NULL]),
        Value::Bool(b) => out.put(&[if *b { TRUE } else { FALSE }]),
        Value::Number(n) => match n.as_i64() {
            Some(i) => cbor_int(out, i),
            None => cbor_f64(out, n.as_f64()?)?,
        },
        Value::String(s) => cbor_text(out, s),
        Value::Array(items) => {
            cbor_head(out, MAJOR_ARRAY, items.len() as u64);
            for item in items {
                cbor_json(out, item)?;
            }
        }
        Value::Object(map) => {
            cbor_head(out, MAJOR_MAP, map.len() as u64);
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_unstable_by(|(a, _), (b, _)| {
                a.len()
                    .cmp(&b.len())
                    .then_with(|| a.as_bytes().cmp(b.as_bytes()))
            });
            for (key, value) in entries {
                cbor_text(out, key);
                cbor_json(out, value)?;
            }
        }
    }
    Some(())
}
