//! flagd's `fractional` operator: deterministic weighted bucketing of a
//! bucketing value (or of the flag key and targeting key) with MurmurHash3,
//! in the three bucketing schemes flagd has shipped (v1 legacy percentages,
//! v2 high-precision integer buckets, v3 hashing of a CBOR encoding).

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use serde_json::Value;

use crate::logic::value::{NumberText, Val, push_js_number};

mod cbor;
mod murmur3;

use self::cbor::{MAJOR_ARRAY, MAJOR_TEXT, TWO_POW_63, cbor_head, cbor_text, cbor_val};
pub use self::cbor::{cbor_murmur3, cbor_murmur3_str};
pub(crate) use self::murmur3::Murmur3;
pub use self::murmur3::murmur3_x86_32;

/// Which bucketing scheme `fractional` uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum FractionalVersion {
    /// flagd before the high-precision change: the bucketing string's hash
    /// is read as `i32`, `abs(hash) / i32::MAX * 100` is compared (as a
    /// float) against cumulative percentages.
    V1,
    /// flagd's high-precision bucketing: `(hash * total_weight) >> 32` over
    /// the UTF-8 bytes of the bucketing string (or of flag key followed by
    /// targeting key).
    #[default]
    V2,
    /// Bucketing of any JSON value: the hash is taken over a deterministic
    /// CBOR encoding of the value (or of `[flagKey, targetingKey]`), then
    /// bucketed as in v2.
    V3,
}

impl FractionalVersion {
    /// The version's name: `"v1"`, `"v2"` or `"v3"`.
    pub fn as_str(self) -> &'static str {
        match self {
            FractionalVersion::V1 => "v1",
            FractionalVersion::V2 => "v2",
            FractionalVersion::V3 => "v3",
        }
    }
}

impl fmt::Display for FractionalVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error of parsing a [`FractionalVersion`] from a string that names
/// none.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown fractional version {0:?} (expected \"v1\", \"v2\" or \"v3\")")]
pub struct UnknownFractionalVersion(pub String);

impl FromStr for FractionalVersion {
    type Err = UnknownFractionalVersion;

    /// Accepts `v1`, `v2`, `v3` (any case of the `v`) and `1`, `2`, `3`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let digits = s.strip_prefix(['v', 'V']).unwrap_or(s);
        match digits {
            "1" => Ok(FractionalVersion::V1),
            "2" => Ok(FractionalVersion::V2),
            "3" => Ok(FractionalVersion::V3),
            _ => Err(UnknownFractionalVersion(s.to_owned())),
        }
    }
}

/// The outcome of a bucketing.
#[derive(Debug, Clone, PartialEq)]
pub struct Pick<'a> {
    /// The chosen bucket's variant: the evaluated first element of the bucket
    /// array. Any scalar (a string, or e.g. a bool when `fractional` is used
    /// as a condition, a number, or null).
    pub variant: Val<'a>,
    /// The bucket value computed from the hash: in `[0, total_weight)` for v2
    /// and v3, the integer part of the percentage in `[0, 100]` for v1.
    pub bucket: u64,
    /// The 32-bit MurmurHash3 of the bucketing bytes.
    pub hash: u32,
}

/// flagd's `fractional` over its already-evaluated arguments.
///
/// JSONLogic evaluates every argument, including nested expressions in
/// bucket names and weights, before the operator runs. `flag_key` is the
/// evaluated flag's key (`$flagd.flagKey`), `targeting_key` the context's
/// `targetingKey` value if present.
///
/// The first argument is the bucketing value unless it is an array, in which
/// case every argument is a bucket and the flag key with the targeting key
/// are bucketed (the shorthand). v1 and v2 bucket only strings: a null first
/// argument is skipped and the shorthand used, any other non-string makes the
/// call invalid. v3 buckets any value but null.
///
/// Each bucket is `[variant]` or `[variant, weight]`: the variant a scalar,
/// the weight (1 when absent) a whole number no larger than `i32::MAX`;
/// negative weights count as 0, and the weights may sum to at most
/// `i32::MAX`.
///
/// Returns `None` where flagd yields null: invalid arguments, no bucketing
/// value (null in v3, or no usable targeting key for the shorthand), all-zero
/// weights, a number v3 cannot encode (not finite).
pub fn fractional<'a>(
    version: FractionalVersion,
    args: &[Val<'a>],
    flag_key: &str,
    targeting_key: Option<&Val<'_>>,
) -> Option<Pick<'a>> {
    let (first, rest) = args.split_first()?;
    let (source, buckets) =
        match classify(version, Key::Value(first), None, flag_key, targeting_key)? {
            (source, Buckets::Rest) => (source, rest),
            (source, Buckets::All) => (source, args),
        };
    let total = total_weight(version, buckets)?;
    let hash = hash(version, source)?;
    let weights = buckets.iter().filter_map(|b| valid_weight(version, b));
    let (index, bucket) = locate(version, weights.map(|(_, w)| w), total, hash)?;
    let (variant, _) = bucket_parts(buckets.get(index)?)?;
    Some(Pick {
        variant: variant.to_val(),
        bucket,
        hash,
    })
}

/// The buckets of a `fractional` call whose buckets are all constants,
/// validated and summed once, when the rule is compiled.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ConstBuckets {
    version: FractionalVersion,
    /// Each bucket's variant (the first element, as written) and weight.
    entries: Box<[(Value, u64)]>,
    /// The sum of the weights (which may be 0); `None` if a bucket is
    /// invalid or the sum exceeds [`MAX_WEIGHT`].
    sum: Option<u64>,
    /// The constant text a `cat` bucketing value starts with.
    prefix: Prefix,
}

/// Constant text that a `cat` bucketing value starts with, and the hash
/// state after it, computed once: v1 and v2 hash the text first, so only
/// the rest is hashed at evaluation. (v3 hashes the text's length first,
/// which is only known then.)
#[derive(Debug, Clone, PartialEq)]
struct Prefix {
    text: Box<str>,
    /// The v1/v2 hash state after the text.
    state: Murmur3,
    /// How many of the `cat`'s arguments the text is made of.
    args: usize,
}

/// The bucketing value of a `fractional` call, for [`ConstBuckets::pick`].
#[derive(Debug, Clone, Copy)]
pub(crate) enum Key<'v, 'a> {
    /// The evaluated first argument.
    Value(&'v Val<'a>),
    /// A first argument that is a `cat`: the string it builds is the
    /// buckets' prefix ([`ConstBuckets::prefix`]) followed by the texts of
    /// these pieces, its other arguments evaluated; hashed without being
    /// built.
    Concat(&'v [Piece<'a>]),
    /// No first argument apart from the buckets: the call was written in
    /// the shorthand form, a bucket array first.
    Shorthand,
}

impl ConstBuckets {
    /// Validates `buckets`, the constant bucket arrays of a call, as
    /// `version` validates them at evaluation. `prefix` is the text of the
    /// first `prefix_args` arguments of the `cat` the call buckets by, when
    /// they are constants.
    pub(crate) fn new(
        version: FractionalVersion,
        buckets: &[Value],
        prefix: &str,
        prefix_args: usize,
    ) -> Self {
        let vals: Vec<Val<'_>> = buckets.iter().map(Val::from_json).collect();
        let sum = weight_sum(version, &vals);
        let entries = match sum {
            Some(_) => buckets
                .iter()
                .zip(&vals)
                .filter_map(|(json, val)| {
                    let (_, weight) = valid_weight(version, val)?;
                    Some((json.as_array()?.first()?.clone(), weight))
                })
                .collect(),
            None => Box::default(),
        };
        let mut state = Murmur3::new(0);
        state.write(prefix.as_bytes());
        ConstBuckets {
            version,
            entries,
            sum,
            prefix: Prefix {
                text: prefix.into(),
                state,
                args: prefix_args,
            },
        }
    }

    /// The constant text a `cat` bucketing value starts with, and how many
    /// of the `cat`'s arguments it is made of (see [`Key::Concat`]).
    pub(crate) fn prefix(&self) -> (&str, usize) {
        (&self.prefix.text, self.prefix.args)
    }

    /// [`fractional`] over `key` followed by these buckets (all of the
    /// arguments are buckets for [`Key::Shorthand`]), with the same answer
    /// for every key, but nothing to validate and for [`Key::Concat`]
    /// nothing to build.
    pub(crate) fn pick<'a>(
        &'a self,
        key: Key<'_, 'a>,
        flag_key: &str,
        targeting_key: Option<&Val<'_>>,
    ) -> Option<Pick<'a>> {
        let (chosen, bucket, hash) = self.choose(key, flag_key, targeting_key)?;
        let variant = match (chosen, key) {
            (Chosen::Constant(i), _) => Val::from_json(&self.entries.get(i)?.0),
            (Chosen::Key, Key::Value(first)) => bucket_parts(first)?.0.to_val(),
            (Chosen::Key, _) => return None,
        };
        Some(Pick {
            variant,
            bucket,
            hash,
        })
    }

    /// Which bucket [`ConstBuckets::pick`] picks, with the bucket value and
    /// the hash.
    pub(crate) fn choose(
        &self,
        key: Key<'_, '_>,
        flag_key: &str,
        targeting_key: Option<&Val<'_>>,
    ) -> Option<(Chosen, u64, u32)> {
        let version = self.version;
        let (source, buckets) =
            classify(version, key, Some(&self.prefix), flag_key, targeting_key)?;
        let weights = self.entries.iter().map(|(_, w)| *w);
        let sum = self.sum?;
        match (buckets, key) {
            (Buckets::All, Key::Value(first)) => {
                // The bucketing value is the shorthand's first bucket.
                let (variant, w) = bucket_parts(first)?;
                if !variant.is_scalar() {
                    return None;
                }
                let w = weight(version, w)?;
                let total = sum + w;
                if total == 0 || total > MAX_WEIGHT {
                    return None;
                }
                let hash = hash(version, source)?;
                let (index, bucket) =
                    locate(version, std::iter::once(w).chain(weights), total, hash)?;
                let chosen = match index.checked_sub(1) {
                    None => Chosen::Key,
                    Some(i) => Chosen::Constant(i),
                };
                Some((chosen, bucket, hash))
            }
            _ => {
                if sum == 0 {
                    return None;
                }
                let hash = hash(version, source)?;
                let (index, bucket) = locate(version, weights, sum, hash)?;
                Some((Chosen::Constant(index), bucket, hash))
            }
        }
    }

    /// [`ConstBuckets::pick`] for a `cat` bucketing value whose text after
    /// the prefix is `len` bytes long, which `write` writes to the hash.
    pub(crate) fn pick_concat(
        &self,
        len: usize,
        write: impl FnOnce(&mut Murmur3),
    ) -> Option<Pick<'_>> {
        let (chosen, bucket, hash) = self.choose_concat(len, write)?;
        let Chosen::Constant(i) = chosen else {
            return None;
        };
        Some(Pick {
            variant: Val::from_json(&self.entries.get(i)?.0),
            bucket,
            hash,
        })
    }

    /// [`ConstBuckets::choose`] for a `cat` bucketing value whose text
    /// after the prefix is `len` bytes long, which `write` writes to the
    /// hash.
    #[inline(always)]
    pub(crate) fn choose_concat(
        &self,
        len: usize,
        write: impl FnOnce(&mut Murmur3),
    ) -> Option<(Chosen, u64, u32)> {
        let sum = self.sum.filter(|&sum| sum > 0)?;
        let mut hasher = match self.version {
            FractionalVersion::V1 | FractionalVersion::V2 => self.prefix.state.clone(),
            FractionalVersion::V3 => {
                let text = &self.prefix.text;
                let mut hasher = Murmur3::new(0);
                cbor_head(&mut hasher, MAJOR_TEXT, (text.len() + len) as u64);
                hasher.write(text.as_bytes());
                hasher
            }
        };
        write(&mut hasher);
        let hash = hasher.finish();
        let weights = self.entries.iter().map(|(_, w)| *w);
        let (index, bucket) = locate(self.version, weights, sum, hash)?;
        Some((Chosen::Constant(index), bucket, hash))
    }

    /// The variant of each constant bucket, in order.
    pub(crate) fn variants(&self) -> impl Iterator<Item = &Value> {
        self.entries.iter().map(|(variant, _)| variant)
    }
}

/// The bucket a `fractional` call with constant buckets picks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Chosen {
    /// The constant bucket at this index (of [`ConstBuckets::variants`]).
    Constant(usize),
    /// The bucketing value itself, an array that the shorthand made its
    /// first bucket.
    Key,
}

/// Which arguments of a call are its buckets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Buckets {
    /// Those after the first.
    Rest,
    /// All of them (the shorthand).
    All,
}

/// What a call hashes and which arguments are its buckets, given its first
/// argument; `None` where the call yields null whatever its buckets.
#[inline(always)]
fn classify<'v, 'a>(
    version: FractionalVersion,
    key: Key<'v, 'a>,
    prefix: Option<&'v Prefix>,
    flag_key: &'v str,
    targeting_key: Option<&'v Val<'_>>,
) -> Option<(Source<'v, 'a>, Buckets)> {
    let first = match key {
        Key::Shorthand => return Some((shorthand(flag_key, targeting_key)?, Buckets::All)),
        Key::Concat(pieces) => return Some((Source::Concat(prefix, pieces), Buckets::Rest)),
        Key::Value(first) => first,
    };
    // Scalars are normally unpacked; accept a borrowed JSON scalar too.
    let scalar = match first {
        Val::Json(json) if !(json.is_array() || json.is_object()) => Some(json),
        _ => None,
    };
    Some(match version {
        FractionalVersion::V1 | FractionalVersion::V2 => match (first, scalar) {
            (Val::Str(s), _) => (Source::Bytes(s.as_bytes()), Buckets::Rest),
            (_, Some(Value::String(s))) => (Source::Bytes(s.as_bytes()), Buckets::Rest),
            // A missing bucketing value falls back to the targeting key.
            (Val::Null, _) | (_, Some(Value::Null)) => {
                (shorthand(flag_key, targeting_key)?, Buckets::Rest)
            }
            // Arrays are the shorthand's first bucket; any other value is
            // then an invalid bucket, which the validation rejects.
            _ => (shorthand(flag_key, targeting_key)?, Buckets::All),
        },
        FractionalVersion::V3 => match (first, scalar) {
            (Val::Null, _) | (_, Some(Value::Null)) => return None,
            (value, _) if value.is_array() => (shorthand(flag_key, targeting_key)?, Buckets::All),
            (value, _) => (Source::Cbor(value), Buckets::Rest),
        },
    })
}

/// One argument of a `cat` as `cat` renders it, without rendering it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Piece<'a> {
    /// A string, or a word (`true`, `false`).
    Text(&'a str),
    /// A number, printed as JavaScript prints it.
    Number(f64),
}

impl<'a> Piece<'a> {
    /// The piece of a `cat` argument that needs no buffer: `Ok(None)` for
    /// null (which `cat` skips), the piece of a borrowed string, a number
    /// or a boolean, and the value back for anything else.
    pub(crate) fn from_val(value: Val<'a>) -> Result<Option<Self>, Val<'a>> {
        match value {
            Val::Null => Ok(None),
            Val::Str(Cow::Borrowed(s)) => Ok(Some(Piece::Text(s))),
            Val::Num(n) => Ok(Some(Piece::Number(n))),
            Val::Bool(b) => Ok(Some(Piece::Text(if b { "true" } else { "false" }))),
            other => Err(other),
        }
    }

    /// Calls `f` with the piece's text.
    #[inline]
    fn with_text<R>(self, f: impl FnOnce(&str) -> R) -> R {
        match self {
            Piece::Text(s) => f(s),
            Piece::Number(n) => match NumberText::of(n) {
                Some(text) => f(text.as_str()),
                // Every f64 fits; the general path is kept all the same.
                None => {
                    let mut text = String::new();
                    push_js_number(&mut text, n);
                    f(&text)
                }
            },
        }
    }

    /// The length of the piece's text.
    #[inline]
    pub(crate) fn len(self) -> usize {
        match self {
            Piece::Text(text) => text.len(),
            Piece::Number(_) => self.with_text(str::len),
        }
    }

    /// The value the piece was read from (a boolean as its word, which
    /// `cat` renders the same).
    pub(crate) fn to_val(self) -> Val<'a> {
        match self {
            Piece::Text(s) => Val::Str(Cow::Borrowed(s)),
            Piece::Number(n) => Val::Num(n),
        }
    }

    /// Writes the piece's text to `hasher`.
    #[inline]
    pub(crate) fn write_to(self, hasher: &mut Murmur3) {
        match self {
            Piece::Text(text) => hasher.write(text.as_bytes()),
            Piece::Number(_) => self.with_text(|text| hasher.write(text.as_bytes())),
        }
    }

    /// Appends the piece's text to `out`.
    pub(crate) fn push_to(self, out: &mut String) {
        self.with_text(|text| out.push_str(text));
    }
}

/// What is hashed.
#[derive(Debug, Clone, Copy)]
enum Source<'v, 'a> {
    /// A bucketing string's UTF-8 bytes (v1, v2).
    Bytes(&'v [u8]),
    /// The flag key and the targeting key: concatenated (v1, v2) or as a
    /// two-element CBOR array (v3).
    Shorthand(&'v str, &'v str),
    /// A bucketing value, CBOR-encoded (v3).
    Cbor(&'v Val<'a>),
    /// The string a `cat` builds: a constant prefix, then these pieces; its
    /// bytes (v1, v2) or its CBOR encoding (v3).
    Concat(Option<&'v Prefix>, &'v [Piece<'a>]),
}

/// The hash of a source in the version's scheme; `None` for a value v3
/// cannot encode.
#[inline]
fn hash(version: FractionalVersion, source: Source<'_, '_>) -> Option<u32> {
    let mut hasher = Murmur3::new(0);
    match (version, source) {
        (_, Source::Bytes(bytes)) => hasher.write(bytes),
        (FractionalVersion::V3, Source::Shorthand(flag, key)) => {
            cbor_head(&mut hasher, MAJOR_ARRAY, 2);
            cbor_text(&mut hasher, flag);
            cbor_text(&mut hasher, key);
        }
        (_, Source::Shorthand(flag, key)) => {
            hasher.write(flag.as_bytes());
            hasher.write(key.as_bytes());
        }
        (_, Source::Cbor(value)) => cbor_val(&mut hasher, value)?,
        (version, Source::Concat(prefix, pieces)) => {
            let text = prefix.map_or("", |p| &p.text);
            if version == FractionalVersion::V3 {
                let len: usize = pieces.iter().map(|p| p.len()).sum();
                cbor_head(&mut hasher, MAJOR_TEXT, (text.len() + len) as u64);
                hasher.write(text.as_bytes());
            } else if let Some(prefix) = prefix {
                hasher = prefix.state.clone();
            }
            for piece in pieces {
                piece.write_to(&mut hasher);
            }
        }
    }
    Some(hasher.finish())
}

/// The shorthand's source, or `None` without a non-empty string targeting
/// key.
fn shorthand<'v, 'a>(
    flag_key: &'v str,
    targeting_key: Option<&'v Val<'_>>,
) -> Option<Source<'v, 'a>> {
    let key = match targeting_key? {
        Val::Str(s) => s.as_ref(),
        Val::Json(Value::String(s)) => s.as_str(),
        _ => return None,
    };
    (!key.is_empty()).then_some(Source::Shorthand(flag_key, key))
}

/// An element of a bucket array, built or borrowed.
#[derive(Debug, Clone, Copy)]
enum Item<'v, 'a> {
    Val(&'v Val<'a>),
    Json(&'a Value),
}

impl<'v, 'a> Item<'v, 'a> {
    fn of(val: &'v Val<'a>) -> Self {
        match val {
            Val::Json(json) => Item::Json(json),
            other => Item::Val(other),
        }
    }

    /// Whether the item may be a variant: a string, bool, number or null.
    fn is_scalar(self) -> bool {
        match self {
            Item::Val(val) => !matches!(val, Val::Arr(_) | Val::Json(_)),
            Item::Json(json) => !(json.is_array() || json.is_object()),
        }
    }

    /// The item as a weight operand: `Some(None)` for null, `Some(Some(n))`
    /// for a number, `None` for anything else.
    fn as_weight(self) -> Option<Option<f64>> {
        match self {
            Item::Val(Val::Null) | Item::Json(Value::Null) => Some(None),
            Item::Val(Val::Num(n)) => Some(Some(*n)),
            Item::Json(Value::Number(n)) => Some(Some(n.as_f64()?)),
            _ => None,
        }
    }

    fn to_val(self) -> Val<'a> {
        match self {
            Item::Val(val) => val.clone(),
            Item::Json(json) => Val::from_json(json),
        }
    }
}

/// A bucket's variant and weight element, or `None` if it is not a
/// non-empty array.
fn bucket_parts<'v, 'a>(bucket: &'v Val<'a>) -> Option<(Item<'v, 'a>, Option<Item<'v, 'a>>)> {
    match bucket {
        Val::Arr(items) => Some((Item::of(items.first()?), items.get(1).map(Item::of))),
        Val::Json(Value::Array(items)) => {
            Some((Item::Json(items.first()?), items.get(1).map(Item::Json)))
        }
        _ => None,
    }
}

/// The largest single `fractional` weight and the largest sum of one rule's
/// weights: flagd reads weights as 32-bit integers, so a rule beyond this
/// never buckets anyone.
pub const MAX_WEIGHT: u64 = i32::MAX as u64;

/// A bucket's weight, or `None` if it is invalid.
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
fn weight(version: FractionalVersion, item: Option<Item<'_, '_>>) -> Option<u64> {
    let Some(item) = item else { return Some(1) };
    let w = match item.as_weight()? {
        Some(w) => w,
        // flagd (Go) defaults a null weight to 1; v3 rejects it.
        None if version == FractionalVersion::V3 => return None,
        None => return Some(1),
    };
    if !w.is_finite() || w.fract() != 0.0 || w > MAX_WEIGHT as f64 {
        return None;
    }
    // flagd (Go) converts the weight to int64 and rejects it unless that is
    // exact, which fails below -2^63.
    if version != FractionalVersion::V3 && w < -TWO_POW_63 {
        return None;
    }
    // Negative weights (e.g. from rollout arithmetic) count as zero. The
    // value is a whole number in [0, i32::MAX], so the cast is exact.
    Some(if w < 0.0 { 0 } else { w as u64 })
}

/// Validates every bucket and sums the weights; `None` if a bucket is
/// invalid, the sum exceeds `i32::MAX`, or it is zero.
fn total_weight(version: FractionalVersion, buckets: &[Val<'_>]) -> Option<u64> {
    weight_sum(version, buckets).filter(|&total| total > 0)
}

/// Validates every bucket and sums the weights; `None` if a bucket is
/// invalid or the sum exceeds `i32::MAX`.
fn weight_sum(version: FractionalVersion, buckets: &[Val<'_>]) -> Option<u64> {
    let mut total: u64 = 0;
    for bucket in buckets {
        let (variant, w) = bucket_parts(bucket)?;
        if !variant.is_scalar() {
            return None;
        }
        total += weight(version, w)?;
        if total > MAX_WEIGHT {
            return None;
        }
    }
    Some(total)
}

/// The variant and weight of an already validated bucket.
fn valid_weight<'v, 'a>(
    version: FractionalVersion,
    bucket: &'v Val<'a>,
) -> Option<(Item<'v, 'a>, u64)> {
    let (variant, w) = bucket_parts(bucket)?;
    Some((variant, weight(version, w)?))
}

/// Which bucket the hash falls in, among buckets of these (validated)
/// weights summing to `total`: its index and the bucket value.
#[inline]
fn locate(
    version: FractionalVersion,
    weights: impl Iterator<Item = u64>,
    total: u64,
    hash: u32,
) -> Option<(usize, u64)> {
    match version {
        FractionalVersion::V1 => locate_v1(weights, total, hash),
        FractionalVersion::V2 | FractionalVersion::V3 => locate_v2(weights, total, hash),
    }
}

/// v2/v3: maps the hash onto `[0, total)` and walks the cumulative weights.
fn locate_v2(weights: impl Iterator<Item = u64>, total: u64, hash: u32) -> Option<(usize, u64)> {
    let bucket = (u64::from(hash) * total) >> 32;
    let mut end: u64 = 0;
    for (i, w) in weights.enumerate() {
        end += w;
        if bucket < end {
            return Some((i, bucket));
        }
    }
    None
}

/// v1: `abs(hash as i32) / i32::MAX * 100` against cumulative percentages,
/// in floating point exactly as flagd computed it. A value past the last
/// percentage (hash `i32::MIN`, or rounding) picks nothing.
fn locate_v1(weights: impl Iterator<Item = u64>, total: u64, hash: u32) -> Option<(usize, u64)> {
    let signed = hash.cast_signed();
    let ratio = f64::from(signed).abs() / f64::from(i32::MAX);
    let bucket = ratio * 100.0;
    let total = total as f64;
    let mut end = 0.0_f64;
    for (i, w) in weights.enumerate() {
        end += 100.0 * w as f64 / total;
        if bucket < end {
            // In [0, 100.00000005]: the cast keeps the integer part.
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let bucket = bucket as u64;
            return Some((i, bucket));
        }
    }
    None
}

#[cfg(test)]
mod tests;
