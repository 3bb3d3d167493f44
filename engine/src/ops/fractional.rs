//! flagd's `fractional` operator: deterministic weighted bucketing of a
//! bucketing value (or of the flag key and targeting key) with MurmurHash3,
//! in the three bucketing schemes flagd has shipped (v1 legacy percentages,
//! v2 high-precision integer buckets, v3 hashing of a CBOR encoding).

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use serde_json::Value;

use crate::logic::value::{NumberText, Val, push_js_number};

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

/// MurmurHash3 x86 32-bit.
pub fn murmur3_x86_32(data: &[u8], seed: u32) -> u32 {
    let mut hasher = Murmur3::new(seed);
    hasher.write(data);
    hasher.finish()
}

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

/// Incremental MurmurHash3 x86 32-bit, so that several pieces (or an encoder's
/// output) hash as their concatenation without a buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Murmur3 {
    h: u32,
    /// The bytes of an incomplete block, little-endian, in the low `bits`
    /// bits.
    pending: u64,
    /// How many bits `pending` holds: 0, 8, 16 or 24.
    bits: u32,
    /// The length so far, modulo 2^32 as the algorithm mixes it in.
    len: u32,
}

const C1: u32 = 0xcc9e_2d51;
const C2: u32 = 0x1b87_3593;

impl Murmur3 {
    fn new(seed: u32) -> Self {
        Murmur3 {
            h: seed,
            pending: 0,
            bits: 0,
            len: 0,
        }
    }

    #[inline(always)]
    fn mix_k(k: u32) -> u32 {
        k.wrapping_mul(C1).rotate_left(15).wrapping_mul(C2)
    }

    #[inline(always)]
    fn block(h: u32, k: u32) -> u32 {
        (h ^ Self::mix_k(k))
            .rotate_left(13)
            .wrapping_mul(5)
            .wrapping_add(0xe654_6b64)
    }

    #[inline]
    #[allow(clippy::cast_possible_truncation)]
    pub(crate) fn write(&mut self, data: &[u8]) {
        // Truncation keeps the length modulo 2^32.
        self.len = self.len.wrapping_add(data.len() as u32);
        let (mut h, mut pending, mut bits) = (self.h, self.pending, self.bits);
        let (blocks, rest) = data.as_chunks::<4>();
        for block in blocks {
            // The pending bytes lead the block; as many are left over.
            pending |= u64::from(u32::from_le_bytes(*block)) << bits;
            h = Self::block(h, pending as u32);
            pending >>= 32;
        }
        for &byte in rest {
            pending |= u64::from(byte) << bits;
            bits += 8;
            if bits == 32 {
                h = Self::block(h, pending as u32);
                pending = 0;
                bits = 0;
            }
        }
        (self.h, self.pending, self.bits) = (h, pending, bits);
    }

    #[allow(clippy::cast_possible_truncation)]
    fn finish(&self) -> u32 {
        let mut h = self.h;
        if self.bits > 0 {
            // Fewer than 32 bits are pending.
            h ^= Self::mix_k(self.pending as u32);
        }
        h ^= self.len;
        h ^= h >> 16;
        h = h.wrapping_mul(0x85eb_ca6b);
        h ^= h >> 13;
        h = h.wrapping_mul(0xc2b2_ae35);
        h ^ (h >> 16)
    }
}

/// Where the CBOR encoder writes.
trait Sink {
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

const MAJOR_UINT: u8 = 0;
const MAJOR_NINT: u8 = 1;
const MAJOR_TEXT: u8 = 3;
const MAJOR_ARRAY: u8 = 4;
const MAJOR_MAP: u8 = 5;
const FALSE: u8 = 0xf4;
const TRUE: u8 = 0xf5;
const NULL: u8 = 0xf6;
const FLOAT16: u8 = 0xf9;
const FLOAT32: u8 = 0xfa;
const FLOAT64: u8 = 0xfb;

/// A CBOR head with the argument in its shortest form.
#[allow(clippy::cast_possible_truncation)]
#[inline(always)]
fn cbor_head(out: &mut impl Sink, major: u8, arg: u64) {
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
fn cbor_text(out: &mut impl Sink, s: &str) {
    cbor_head(out, MAJOR_TEXT, s.len() as u64);
    out.put(s.as_bytes());
}

fn cbor_int(out: &mut impl Sink, i: i64) {
    if i >= 0 {
        cbor_head(out, MAJOR_UINT, i.unsigned_abs());
    } else {
        // -1 - i, which for a negative i is its bitwise complement.
        cbor_head(out, MAJOR_NINT, (!i).unsigned_abs());
    }
}

/// 2^63 and 2^64 as floats (both exact).
const TWO_POW_63: f64 = 9_223_372_036_854_775_808.0;
const TWO_POW_64: f64 = 18_446_744_073_709_551_616.0;

/// A number: whole numbers in the i64 or u64 range as integers (so `1.0`,
/// `1` and `-0.0`/`0` hash alike), others as the shortest float that holds
/// the value exactly. `None` for NaN and infinities.
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
fn cbor_f64(out: &mut impl Sink, f: f64) -> Option<()> {
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
fn f16_bits_exact(f: f64) -> Option<u16> {
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
fn f32_bits_exact(f: f64) -> Option<u32> {
    #[allow(clippy::cast_possible_truncation)]
    let single = f as f32;
    (f64::from(single).to_bits() == f.to_bits()).then(|| single.to_bits())
}

/// Encodes an evaluation value; `None` if it holds a non-finite number.
fn cbor_val(out: &mut impl Sink, v: &Val<'_>) -> Option<()> {
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
fn cbor_json(out: &mut impl Sink, v: &Value) -> Option<()> {
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

#[cfg(test)]
mod tests {
    use super::FractionalVersion::{V1, V2, V3};
    use super::*;
    use serde_json::json;

    /// Buckets of `fractional-flag`, the shared-seed flags and their kin.
    const SUITS: &str = r#"[["clubs",25],["diamonds",25],["hearts",25],["spades",25]]"#;
    /// Buckets of `fractional-flag-shorthand`.
    const COIN: &str = r#"[["heads"],["tails",1]]"#;

    fn parse(json: &str) -> Value {
        serde_json::from_str(json).unwrap_or_else(|e| panic!("bad JSON {json}: {e}"))
    }

    /// The variant `fractional` picks, as JSON (`null` for `None`).
    fn run(version: FractionalVersion, args: &Value, flag: &str, tk: Option<&Value>) -> Value {
        let Value::Array(items) = args else {
            panic!("args must be an array")
        };
        let args: Vec<Val<'_>> = items.iter().map(Val::from_json).collect();
        let tk = tk.map(Val::from_json);
        fractional(version, &args, flag, tk.as_ref()).map_or(Value::Null, |p| p.variant.to_json())
    }

    /// `fractional` over the arguments `args` (already evaluated, as JSON),
    /// with an optional targeting key (JSON), picks `expect` (JSON, `null`
    /// for `None`).
    #[track_caller]
    fn check(version: FractionalVersion, args: &str, flag: &str, tk: Option<&str>, expect: &str) {
        let tk = tk.map(parse);
        let got = run(version, &parse(args), flag, tk.as_ref());
        assert_eq!(got, parse(expect), "{version} {args} flag={flag} tk={tk:?}");
    }

    /// `[first, ...buckets]`.
    fn with_buckets(first: Value, buckets: &str) -> Value {
        let Value::Array(mut items) = parse(buckets) else {
            panic!("buckets must be an array")
        };
        items.insert(0, first);
        Value::Array(items)
    }

    /// A flag bucketing on a string value with the given buckets.
    #[track_caller]
    fn by_string(version: FractionalVersion, value: &str, buckets: &str, expect: &str) {
        let args = with_buckets(Value::from(value), buckets);
        let got = run(version, &args, "unused", None);
        assert_eq!(got, Value::from(expect), "{version} {value:?}");
    }

    /// `fractional-flag`: `{"cat": [{"var": "$flagd.flagKey"}, {"var": "user.name"}]}`.
    #[track_caller]
    fn suits(version: FractionalVersion, name: &str, expect: &str) {
        by_string(version, &format!("fractional-flag{name}"), SUITS, expect);
    }

    /// `fractional-flag-{A,B}-shared-seed`: `{"cat": ["shared-seed", {"var": "user.name"}]}`.
    #[track_caller]
    fn shared_seed(version: FractionalVersion, name: &str, expect: &str) {
        by_string(version, &format!("shared-seed{name}"), SUITS, expect);
    }

    /// `fractional-flag-shorthand` with a targeting key.
    #[track_caller]
    fn coin(version: FractionalVersion, targeting_key: &str, expect: &str) {
        let got = run(
            version,
            &parse(COIN),
            "fractional-flag-shorthand",
            Some(&Value::from(targeting_key)),
        );
        assert_eq!(got, Value::from(expect), "{version} {targeting_key:?}");
    }

    /// `fractional-basic-flag`: `{"var": "hashing_input"}` over 25 buckets of
    /// weight 4, with a context value of the given testbed type.
    #[track_caller]
    fn basic(ty: &str, input: &str, expect: &str) {
        let value = match ty {
            "String" => Value::from(input),
            "Integer" => Value::from(input.parse::<i64>().unwrap_or_else(|e| panic!("{e}"))),
            "Float" => Value::from(input.parse::<f64>().unwrap_or_else(|e| panic!("{e}"))),
            "Boolean" => Value::from(input == "true"),
            "Object" => parse(input),
            _ => panic!("unknown type {ty}"),
        };
        let buckets: Vec<Value> = (1..=25).map(|i| json!([format!("bucket{i}"), 4])).collect();
        let args = with_buckets(value, &Value::Array(buckets).to_string());
        let got = run(V3, &args, "fractional-basic-flag", None);
        assert_eq!(got, Value::from(expect), "{ty} {input}");
    }

    #[test]
    fn murmur3_known_answers() {
        #[track_caller]
        fn mm(data: &[u8], seed: u32, expect: u32) {
            assert_eq!(
                murmur3_x86_32(data, seed),
                expect,
                "{data:?} seed {seed:#x}"
            );
        }
        mm(b"", 0, 0);
        mm(b"", 1, 0x514e_28b7);
        mm(b"", 0xffff_ffff, 0x81f1_6f39);
        mm(&[0, 0, 0, 0], 0, 0x2362_f9de);
        mm(&[0xff, 0xff, 0xff, 0xff], 0, 0x7629_3b50);
        mm(&[0x21, 0x43, 0x65, 0x87], 0, 0xf55b_516b);
        mm(&[0x21, 0x43, 0x65, 0x87], 0x5082_edee, 0x2362_f9de);
        mm(&[0x21, 0x43, 0x65], 0, 0x7e4a_8634);
        mm(&[0x21, 0x43], 0, 0xa0f7_b07a);
        mm(&[0x21], 0, 0x7266_1cf4);
        mm(b"aaaa", 0x9747_b28c, 0x5a97_808a);
        mm(b"aaa", 0x9747_b28c, 0x283e_0130);
        mm(b"aa", 0x9747_b28c, 0x5d21_1726);
        mm(b"a", 0x9747_b28c, 0x7fa0_9ea6);
        mm(b"abcd", 0x9747_b28c, 0xf047_8627);
        mm(b"Hello, world!", 0x9747_b28c, 0x2488_4cba);
        mm(
            b"The quick brown fox jumps over the lazy dog",
            0x9747_b28c,
            0x2fa8_26cd,
        );
        mm(b"flag-user", 0, 2_410_693_464);
        // The testbed's hash edge-case keys.
        mm(b"ejOoVL", 0, 0);
        mm(b"bY9fO-", 0, 1);
        mm(b"SI7p-", 0, 2_147_483_647);
        mm(b"6LvT0", 0, 2_147_483_648);
        mm(b"ceQdGm", 0, 4_294_967_295);
    }

    #[test]
    fn murmur3_incremental_matches_one_shot() {
        let data: Vec<u8> = (0u8..=40).map(|i| i.wrapping_mul(37)).collect();
        for len in 0..data.len() {
            let whole = murmur3_x86_32(&data[..len], 7);
            for a in 0..=len {
                for b in a..=len {
                    let mut h = Murmur3::new(7);
                    h.write(&data[..a]);
                    h.write(&data[a..b]);
                    h.write(&data[b..len]);
                    assert_eq!(h.finish(), whole, "len {len} split {a} {b}");
                }
            }
        }
    }

    #[test]
    fn version_names() {
        for (text, version) in [
            ("v1", V1),
            ("v2", V2),
            ("v3", V3),
            ("1", V1),
            ("2", V2),
            ("3", V3),
        ] {
            assert_eq!(text.parse::<FractionalVersion>(), Ok(version));
        }
        assert_eq!(V1.as_str(), "v1");
        assert_eq!(V2.as_str(), "v2");
        assert_eq!(V3.to_string(), "v3");
        assert_eq!(FractionalVersion::default(), V2);
        assert!("v4".parse::<FractionalVersion>().is_err());
        assert!("".parse::<FractionalVersion>().is_err());
    }

    // Both evaluator/gherkin/fractional.feature and gherkin/targeting.feature
    // (identical v1 and v2 tables; v3 only in the latter).

    #[test]
    fn fractional_flag_v1() {
        suits(V1, "jack", "spades");
        suits(V1, "queen", "clubs");
        suits(V1, "ten", "diamonds");
        suits(V1, "nine", "hearts");
        suits(V1, "3", "diamonds");
    }

    #[test]
    fn fractional_flag_v2() {
        suits(V2, "jack", "hearts");
        suits(V2, "queen", "spades");
        suits(V2, "ten", "clubs");
        suits(V2, "nine", "diamonds");
        suits(V2, "3", "clubs");
    }

    #[test]
    fn fractional_flag_v3() {
        suits(V3, "jack", "diamonds");
        suits(V3, "queen", "diamonds");
        suits(V3, "ten", "clubs");
        suits(V3, "nine", "clubs");
        suits(V3, "3", "spades");
    }

    #[test]
    fn shorthand() {
        coin(V1, "jon@company.com", "heads");
        coin(V1, "jane@company.com", "tails");
        coin(V2, "jon@company.com", "heads");
        coin(V2, "jane@company.com", "tails");
        coin(V3, "jon@company.com", "tails");
        coin(V3, "jane@company.com", "tails");
        // "Fractional operator using implicit targeting key".
        coin(V3, "user-1", "heads");
        coin(V3, "user-2", "tails");
        coin(V3, "user-3", "heads");
    }

    #[test]
    fn shared_seed_a() {
        shared_seed(V1, "jack", "hearts");
        shared_seed(V1, "queen", "spades");
        shared_seed(V1, "ten", "hearts");
        shared_seed(V1, "nine", "diamonds");
        shared_seed(V2, "seven", "hearts");
        shared_seed(V2, "eight", "diamonds");
        shared_seed(V2, "nine", "clubs");
        shared_seed(V2, "two", "spades");
        shared_seed(V3, "seven", "hearts");
        shared_seed(V3, "eight", "hearts");
        shared_seed(V3, "nine", "diamonds");
        shared_seed(V3, "two", "diamonds");
    }

    /// Flag B has A's rule; its variants map `hearts` to `ace-of-hearts` etc.
    #[test]
    fn shared_seed_b() {
        shared_seed(V1, "jack", "hearts"); // ace-of-hearts
        shared_seed(V1, "queen", "spades"); // ace-of-spades
        shared_seed(V1, "ten", "hearts"); // ace-of-hearts
        shared_seed(V1, "nine", "diamonds"); // ace-of-diamonds
        shared_seed(V2, "seven", "hearts"); // ace-of-hearts
        shared_seed(V2, "eight", "diamonds"); // ace-of-diamonds
        shared_seed(V2, "nine", "clubs"); // ace-of-clubs
        shared_seed(V2, "two", "spades"); // ace-of-spades
        shared_seed(V3, "seven", "hearts"); // ace-of-hearts
        shared_seed(V3, "eight", "hearts"); // ace-of-hearts
        shared_seed(V3, "nine", "diamonds"); // ace-of-diamonds
        shared_seed(V3, "two", "diamonds"); // ace-of-diamonds
    }

    #[test]
    fn single_entry() {
        let flag = "fractional-single-entry-flag";
        for v in [V1, V2, V3] {
            check(
                v,
                r#"[["single",1]]"#,
                flag,
                Some(r#""some-targeting-key""#),
                r#""single""#,
            );
        }
    }

    #[test]
    fn hash_edge_cases_v2() {
        let edge = r#"[["lower",50],["upper",50]]"#;
        by_string(V2, "ejOoVL", edge, "lower");
        by_string(V2, "bY9fO-", edge, "lower");
        by_string(V2, "SI7p-", edge, "lower");
        by_string(V2, "6LvT0", edge, "upper");
        by_string(V2, "ceQdGm", edge, "upper");
        let args = [Val::Str("ceQdGm".into()), Val::Json(&json!(["x", 100]))];
        let pick = fractional(V2, &args, "f", None);
        assert_eq!(pick.map(|p| (p.hash, p.bucket)), Some((u32::MAX, 99)));
        let args = [Val::Str("6LvT0".into()), Val::Json(&json!(["x", 100]))];
        let pick = fractional(V2, &args, "f", None);
        assert_eq!(pick.map(|p| (p.hash, p.bucket)), Some((1 << 31, 50)));
    }

    /// The `@fractional-nested` scenarios carry no version tag; the bucket
    /// names and weights reach the operator evaluated.
    #[test]
    fn nested_expressions() {
        for v in [V2, V3] {
            // fractional-nested-if-flag: bucket0 = if(tier == premium, premium, standard).
            let tk = "jon@company.com";
            let rule = |first: &str| format!(r#"["{tk}", ["{first}", 50], ["standard", 50]]"#);
            check(
                v,
                &rule("premium"),
                "fractional-nested-if-flag",
                None,
                r#""premium""#,
            );
            check(
                v,
                &rule("standard"),
                "fractional-nested-if-flag",
                None,
                r#""standard""#,
            );
            let rule = r#"["user1", ["premium", 50], ["standard", 50]]"#;
            check(v, rule, "fractional-nested-if-flag", None, r#""standard""#);
            let rule = r#"["user1", ["standard", 50], ["standard", 50]]"#;
            check(v, rule, "fractional-nested-if-flag", None, r#""standard""#);
            // fractional-nested-var-flag: bucket0 = var(color); a missing
            // color is null, and yellow or null are no variant of the flag.
            let flag = "fractional-nested-var-flag";
            check(
                v,
                r#"["jon@company.com", ["red", 50], ["blue", 50]]"#,
                flag,
                None,
                r#""red""#,
            );
            let rule = r#"["jon@company.com", ["green", 50], ["blue", 50]]"#;
            check(v, rule, flag, None, r#""green""#);
            check(
                v,
                r#"["user1", ["red", 50], ["blue", 50]]"#,
                flag,
                None,
                r#""blue""#,
            );
            let rule = r#"["jon@company.com", ["yellow", 50], ["blue", 50]]"#;
            check(v, rule, flag, None, r#""yellow""#);
            check(
                v,
                r#"["jon@company.com", [null, 50], ["blue", 50]]"#,
                flag,
                None,
                "null",
            );
            // fractional-nested-weight-flag: bucket0 weight = if(tier == premium, 100, 0).
            let flag = "fractional-nested-weight-flag";
            for tk in ["jon@company.com", "user1"] {
                let rule = format!(r#"["{tk}", ["red", 100], ["blue", 10]]"#);
                check(v, &rule, flag, None, r#""red""#);
                let rule = format!(r#"["{tk}", ["red", 0], ["blue", 10]]"#);
                check(v, &rule, flag, None, r#""blue""#);
            }
            // fractional-as-condition(-false)-flag: the shorthand picks a bool.
            let tk = Some(r#""some-targeting-key""#);
            check(
                v,
                "[[false, 0], [true, 100]]",
                "fractional-as-condition-flag",
                tk,
                "true",
            );
            let flag = "fractional-as-condition-false-flag";
            check(v, "[[false, 100], [true, 0]]", flag, tk, "false");
        }
    }

    #[test]
    fn operator_errors() {
        for v in [V1, V2, V3] {
            // fractional-null-bucket-key-flag: {"var": "missing_key"}, no targeting key.
            let flag = "fractional-null-bucket-key-flag";
            check(v, r#"[null, ["one", 50], ["two", 50]]"#, flag, None, "null");
            // fractional-zero-weights-flag.
            let tk = Some(r#""any-user""#);
            let flag = "fractional-zero-weights-flag";
            check(
                v,
                r#"["any-user", ["one", 0], ["two", 0]]"#,
                flag,
                tk,
                "null",
            );
            // fractional-negative-weight-flag: -50 counts as 0.
            let flag = "fractional-negative-weight-flag";
            check(
                v,
                r#"["any-user", ["one", -50], ["two", 100]]"#,
                flag,
                tk,
                r#""two""#,
            );
            // targeting-null-flag (edge-case-flags.json), empty context.
            check(v, r#"[null, ["one"]]"#, "targeting-null-flag", None, "null");
        }
    }

    #[test]
    fn v3_basic_types() {
        basic("Boolean", "true", "bucket5");
        basic("Boolean", "false", "bucket1");
        basic("String", "user1", "bucket22");
        basic("String", "user2", "bucket16");
        basic("Integer", "123", "bucket20");
        basic("Integer", "456", "bucket12");
        basic("Float", "1.23", "bucket14");
        basic("Float", "4.56", "bucket18");
        basic("String", "123", "bucket22");
        basic("String", "true", "bucket24");
        basic("String", "false", "bucket1");
        basic("String", "null", "bucket8");
        basic("String", "1.23", "bucket4");
        basic("Integer", "0", "bucket8");
    }

    #[test]
    fn v3_float_mapping_and_zeros() {
        basic("Float", "1.0", "bucket23");
        basic("Integer", "1", "bucket23");
        basic("Float", "1.0000000000000001", "bucket23");
        basic("Float", "-2.0", "bucket12");
        basic("Integer", "-2", "bucket12");
        basic("Float", "9007199254740992.0", "bucket10");
        basic("Integer", "9007199254740992", "bucket10");
        basic("Float", "0.0", "bucket8");
        basic("Float", "-0.0", "bucket8");
        basic("Integer", "0", "bucket8");
    }

    #[test]
    fn v3_integer_limits() {
        basic("Integer", "2147483647", "bucket10");
        basic("Integer", "2147483648", "bucket25");
        basic("Integer", "-2147483648", "bucket8");
        basic("Integer", "-2147483649", "bucket18");
        basic("Integer", "9007199254740991", "bucket2");
        basic("Integer", "23", "bucket21");
        basic("Integer", "24", "bucket11");
        basic("Integer", "255", "bucket13");
        basic("Integer", "256", "bucket13");
        basic("Integer", "65535", "bucket4");
        basic("Integer", "65536", "bucket11");
        basic("Integer", "4294967295", "bucket14");
        basic("Integer", "4294967296", "bucket19");
        basic("Integer", "-24", "bucket4");
        basic("Integer", "-25", "bucket16");
    }

    #[test]
    fn v3_float_limits() {
        basic("Float", "1e20", "bucket19");
        basic("Float", "-1e20", "bucket25");
        basic("Float", "65504.0", "bucket16");
        basic("Float", "-65504.0", "bucket9");
        basic("Float", "0.00006103515625", "bucket22");
        basic("Float", "0.000000059604644775390625", "bucket23");
        basic("Float", "65505.0", "bucket17");
        basic("Float", "-65505.0", "bucket17");
        basic("Float", "3.4028234663852886e+38", "bucket10");
        basic("Float", "-3.4028234663852886e+38", "bucket3");
        basic("Float", "1.1754943508222875e-38", "bucket24");
        basic("Float", "3.5e+38", "bucket1");
        basic("Float", "-3.5e+38", "bucket6");
        basic("Float", "1.7976931348623157e+308", "bucket17");
        basic("Float", "-1.7976931348623157e+308", "bucket9");
        basic("Float", "2.2250738585072014e-308", "bucket11");
        basic("Float", "4.9406564584124654e-324", "bucket2");
    }

    #[test]
    fn v3_map_key_ordering() {
        basic("Object", r#"{"a": 1, "b": 2}"#, "bucket23");
        basic("Object", r#"{"b": 2, "a": 1}"#, "bucket23");
        basic("Object", r#"{"a": 1, "b": 2, "c": 3}"#, "bucket18");
        basic("Object", r#"{"c": 3, "a": 1, "b": 2}"#, "bucket18");
        basic("Object", r#"{"z": 1, "aa": 2}"#, "bucket21");
        basic("Object", r#"{"aa": 2, "z": 1}"#, "bucket21");
        basic("Object", r#"{"a": {"b": 1}, "b": 2}"#, "bucket9");
        basic("Object", r#"{"b": 2, "a": {"b": 1}}"#, "bucket9");
        basic(
            "Object",
            r#"{"a": true, "bbb": 1, "c": "text", "dddd": 2.5}"#,
            "bucket25",
        );
        basic(
            "Object",
            r#"{"c": "text", "bbb": 1, "a": true, "dddd": 2.5}"#,
            "bucket25",
        );
        basic("Object", r#"{"aaa": 1, "ÿ": 2}"#, "bucket12");
        basic("Object", r#"{"ÿ": 2, "aaa": 1}"#, "bucket12");
        basic("Object", r#"{"": 2, "abc": 1}"#, "bucket25");
        basic("Object", r#"{"key": -0.0}"#, "bucket10");
        basic("Object", r#"{"key": 0}"#, "bucket10");
        basic("Object", r#"{"key": 0.0}"#, "bucket10");
        basic(
            "Object",
            r#"{"b": -0.0, "a": {"b": 1}, "c": 0.0}"#,
            "bucket8",
        );
        basic(
            "Object",
            r#"{"c": 0.0, "b": -0.0, "a": {"b": 1}}"#,
            "bucket8",
        );
        basic(
            "Object",
            r#"{"café": "façade", "b": {"résumé": {"ÿ": true}}}"#,
            "bucket22",
        );
    }

    #[test]
    fn v3_advanced_structures() {
        basic("Object", r#"{}"#, "bucket3");
        basic("Object", r#"{"a": {} }"#, "bucket20");
        basic("Object", r#"{"b": 2, "a": {} }"#, "bucket20");
        basic("Object", r#"{"a": {}, "b": {}}"#, "bucket21");
        basic("Object", r#"{"a": {}, "b": []}"#, "bucket7");
        basic("Object", r#"{"c": 0.0, "a": []}"#, "bucket18");
        basic(
            "Object",
            r#"{"c": 0.0, "b": -0.0, "a": {"b": []}}"#,
            "bucket9",
        );
        basic("Object", r#"{"a": [] }"#, "bucket12");
        basic("Object", r#"{"a": [1, [], 3], "b": null}"#, "bucket3");
        basic(
            "Object",
            r#"{"a": ["a", "b", {}], "b": [1, null, 2]}"#,
            "bucket23",
        );
        basic("Object", r#"{"a": [1, "two", true, [], null]}"#, "bucket23");
        let dup = r#"{"a": [false, 2.5, ""], "b": [], "c": [{}], "c": null}"#;
        basic("Object", dup, "bucket15");
        basic(
            "Object",
            r#"{"x": [{"a": 1}, {"b": 2}, {"b": null}]}"#,
            "bucket3",
        );
        basic("Object", r#"{"x": [{"a": {"b": []}}] }"#, "bucket16");
        basic("Object", r#"{"x": [{"a": {"b": null}}] }"#, "bucket6");
        basic("Object", r#"{"x": [{"a": {"b": {}}}] }"#, "bucket2");
        basic(
            "Object",
            r#"{"": "", "": [], "": {}, "": null}"#,
            "bucket25",
        );
        let dup = r#"{"": {"": ""}, "": ["", {"": ""}], "": {"": {"": ""}}}"#;
        basic("Object", dup, "bucket11");
        basic("Object", r#"{"a": [[[[[]]]]] }"#, "bucket15");
        basic("Object", r#"{"a": [[[[null]]]] }"#, "bucket7");
        basic("Object", r#"{"a": {"b": {"c": {"d": {}}} } }"#, "bucket21");
        basic(
            "Object",
            r#"{"a": {"b": {"c": {"d": null}} } }"#,
            "bucket19",
        );
    }

    #[test]
    fn v3_strings() {
        basic("String", "", "bucket4");
        basic("String", "a", "bucket6");
        basic("String", "12345678901234567890123", "bucket4");
        basic("String", "123456789012345678901234", "bucket14");
        basic("String", &"a".repeat(255), "bucket18");
        basic("String", &"a".repeat(256), "bucket7");
        basic("String", "あいうえおかき", "bucket17");
        basic("String", "あいうえおかきく", "bucket16");
        basic("String", "ééééééééééé", "bucket16");
        basic("String", "éééééééééééé", "bucket19");
        basic("String", "café façade résumé café", "bucket9");
        // The table's escapes reach the provider as text, not unescaped.
        basic("String", r"A\u0000B", "bucket15");
        basic("String", r"e\u0301", "bucket7");
        basic("String", r"\uD83D\uDE00", "bucket23");
    }

    /// "Fractional operator invalid implicit inputs": no usable targeting key.
    #[test]
    fn invalid_shorthand_inputs() {
        for v in [V1, V2, V3] {
            let flag = "fractional-flag-shorthand";
            check(v, COIN, flag, None, "null");
            check(v, COIN, flag, Some("12345"), "null");
            check(v, COIN, flag, Some("true"), "null");
            check(v, COIN, flag, Some("null"), "null");
            check(v, COIN, flag, Some(r#""""#), "null");
        }
    }

    /// Where v1/v2 (flagd's Go evaluator) and v3 treat the first argument
    /// differently.
    #[test]
    fn first_argument_by_version() {
        let tk = Some(r#""jon@company.com""#);
        let flag = "fractional-flag-shorthand";
        // v1/v2 skip a null bucketing value and bucket the targeting key; v3 yields null.
        check(
            V1,
            r#"[null, ["heads"], ["tails", 1]]"#,
            flag,
            tk,
            r#""heads""#,
        );
        check(
            V2,
            r#"[null, ["heads"], ["tails", 1]]"#,
            flag,
            tk,
            r#""heads""#,
        );
        check(V3, r#"[null, ["heads"], ["tails", 1]]"#, flag, tk, "null");
        // v1/v2 bucket only strings; v3 encodes numbers, bools and objects.
        for first in ["1", "true", r#"{"a": 1}"#] {
            let args = format!(r#"[{first}, ["heads"], ["tails", 1]]"#);
            check(V1, &args, flag, tk, "null");
            check(V2, &args, flag, tk, "null");
            assert_ne!(run(V3, &parse(&args), flag, None), Value::Null, "{args}");
        }
        // A bucketing value with no buckets.
        for v in [V1, V2, V3] {
            check(v, r#"["user"]"#, flag, tk, "null");
            check(v, "[]", flag, tk, "null");
        }
        // Built arrays are the shorthand too.
        let key = Val::Str("jon@company.com".into());
        let args = [
            Val::Arr(vec![Val::Str("heads".into())]),
            Val::Arr(vec![Val::Str("tails".into()), Val::Num(1.0)]),
        ];
        for (v, expect) in [(V1, "heads"), (V2, "heads"), (V3, "tails")] {
            let pick = fractional(v, &args, flag, Some(&key)).map(|p| p.variant);
            assert_eq!(pick, Some(Val::Str(expect.into())), "{v}");
        }
    }

    #[test]
    fn weight_validation() {
        let flag = "f";
        for v in [V1, V2, V3] {
            // Weights must be whole numbers up to i32::MAX, summing to at most i32::MAX.
            check(v, r#"["u", ["a", 1.5], ["b", 1]]"#, flag, None, "null");
            check(
                v,
                r#"["u", ["a", 2147483648], ["b", 1]]"#,
                flag,
                None,
                "null",
            );
            check(
                v,
                r#"["u", ["a", 2147483647], ["b", 1]]"#,
                flag,
                None,
                "null",
            );
            check(
                v,
                r#"["u", ["a", 2147483646], ["b", 1]]"#,
                flag,
                None,
                r#""a""#,
            );
            check(v, r#"["u", ["a", "50"], ["b", 1]]"#, flag, None, "null");
            check(v, r#"["u", ["a", [1]], ["b", 1]]"#, flag, None, "null");
            // Every bucket is validated, not only the one picked.
            check(v, r#"["u", ["a", 1], ["b", 1], "c"]"#, flag, None, "null");
            check(v, r#"["u", ["a", 1], []]"#, flag, None, "null");
            check(v, r#"["u", ["a", 1], [["b"], 1]]"#, flag, None, "null");
            check(v, r#"["u", ["a", 1], [{"b": 1}, 1]]"#, flag, None, "null");
            // Scalar variants of any type; extra elements are ignored.
            check(v, r#"["u", [7, 1, "extra"]]"#, flag, None, "7");
            check(v, r#"["u", [null, 1]]"#, flag, None, "null");
            check(v, r#"["u", [false, 0], [true, 5]]"#, flag, None, "true");
        }
        // A null weight counts as 1 for flagd (Go); v3 rejects it.
        check(V2, r#"["u", ["a", null]]"#, flag, None, r#""a""#);
        check(V1, r#"["u", ["a", null]]"#, flag, None, r#""a""#);
        check(V3, r#"["u", ["a", null]]"#, flag, None, "null");
        // A NaN weight (e.g. from arithmetic) is invalid.
        for v in [V1, V2, V3] {
            let args = [
                Val::Str("u".into()),
                Val::Arr(vec![Val::Str("a".into()), Val::Num(f64::NAN)]),
            ];
            assert_eq!(fractional(v, &args, flag, None), None);
        }
    }

    /// v3 cannot encode non-finite numbers.
    #[test]
    fn v3_non_finite_bucketing_value() {
        let buckets = Val::Arr(vec![Val::Str("a".into()), Val::Num(1.0)]);
        for n in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            let args = [Val::Num(n), buckets.clone()];
            assert_eq!(fractional(V3, &args, "f", None), None);
            let args = [Val::Arr(vec![Val::Num(n)]), buckets.clone()];
            assert_eq!(fractional(V3, &args, "f", None), None);
        }
    }

    #[test]
    fn v1_bucket_is_a_percentage() {
        // Hash i32::MAX: abs / i32::MAX * 100 = 100, past every bucket.
        let args = [
            Val::Str("SI7p-".into()),
            Val::Arr(vec![Val::Str("x".into()), Val::Num(1.0)]),
        ];
        assert_eq!(fractional(V1, &args, "f", None), None);
        // Hash i32::MIN (-2^31): 100.00000005, also past every bucket.
        let args = [
            Val::Str("6LvT0".into()),
            Val::Arr(vec![Val::Str("x".into()), Val::Num(1.0)]),
        ];
        assert_eq!(fractional(V1, &args, "f", None), None);
        // Hash u32::MAX is -1 as i32: bucket 0.
        let args = [
            Val::Str("ceQdGm".into()),
            Val::Arr(vec![Val::Str("x".into()), Val::Num(1.0)]),
        ];
        let pick = fractional(V1, &args, "f", None).map(|p| (p.bucket, p.hash));
        assert_eq!(pick, Some((0, u32::MAX)));
    }

    fn cbor_hex(v: &Value) -> String {
        let mut out = Vec::new();
        cbor_val(&mut out, &Val::from_json(v)).unwrap_or_else(|| panic!("cannot encode {v}"));
        out.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[track_caller]
    fn cbor(json: &str, hex: &str) {
        assert_eq!(cbor_hex(&parse(json)), hex, "{json}");
    }

    #[track_caller]
    fn cbor_num(n: f64, hex: &str) {
        let mut out = Vec::new();
        assert_eq!(cbor_f64(&mut out, n), Some(()));
        let got: String = out.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(got, hex, "{n:e}");
    }

    /// The public v3 hashes are the hash of the encoding.
    #[test]
    fn cbor_murmur3_hashes_the_encoding() {
        for json in [
            r#""""#,
            r#""fractional-colorc20ad4d2""#,
            "-1.5",
            "18446744073709551615",
            r#"[1, "two", null, {"b": true, "aa": [{}]}]"#,
        ] {
            let value = parse(json);
            let mut encoding = Vec::new();
            assert_eq!(cbor_json(&mut encoding, &value), Some(()), "{json}");
            let expect = murmur3_x86_32(&encoding, 0);
            assert_eq!(cbor_murmur3(&value), Some(expect), "{json}");
            if let Value::String(s) = &value {
                assert_eq!(cbor_murmur3_str(s), expect, "{json}");
            }
        }
    }

    /// RFC 8949 appendix A examples, with whole floats as integers. (Floats
    /// are given as Rust literals: serde_json's default float parsing is not
    /// always correctly rounded.)
    #[test]
    fn cbor_encoding() {
        cbor("0", "00");
        cbor("23", "17");
        cbor("24", "1818");
        cbor("100", "1864");
        cbor("1000", "1903e8");
        cbor("1000000", "1a000f4240");
        cbor("1000000000000", "1b000000e8d4a51000");
        // Beyond i64 a JSON integer is read as a float, as flagd's v3 does.
        cbor("18446744073709549568", "1bfffffffffffff800");
        cbor("18446744073709551615", "fa5f800000");
        cbor("-1", "20");
        cbor("-10", "29");
        cbor("-100", "3863");
        cbor("-1000", "3903e7");
        cbor("-9223372036854775808", "3b7fffffffffffffff");
        cbor_num(0.0, "00");
        cbor_num(-0.0, "00");
        cbor_num(1.0, "01");
        cbor_num(-4.0, "23");
        cbor_num(1.1, "fb3ff199999999999a");
        cbor_num(1.5, "f93e00");
        cbor_num(65504.0, "19ffe0");
        cbor_num(100000.0, "1a000186a0");
        cbor_num(3.4028234663852886e+38, "fa7f7fffff");
        cbor_num(1.0e+300, "fb7e37e43c8800759c");
        cbor_num(5.960464477539063e-8, "f90001");
        cbor_num(0.00006103515625, "f90400");
        cbor_num(-4.1, "fbc010666666666666");
        cbor_num(1e20, "fb4415af1d78b58c40");
        cbor_num(-1e20, "fbc415af1d78b58c40");
        cbor("false", "f4");
        cbor("true", "f5");
        cbor("null", "f6");
        cbor(r#""""#, "60");
        cbor(r#""a""#, "6161");
        cbor(r#""IETF""#, "6449455446");
        cbor(r#""\u00fc""#, "62c3bc");
        cbor("[]", "80");
        cbor("[1, 2, 3]", "83010203");
        cbor("[1, [2, 3], [4, 5]]", "8301820203820405");
        cbor("{}", "a0");
        cbor(r#"{"a": 1, "b": [2, 3]}"#, "a26161016162820203");
        cbor(r#"{"aa": 1, "b": 2}"#, "a261620262616101");
        cbor(r#"{"b": 1, "a": 2, "b": 3}"#, "a2616102616203");
    }

    /// Streaming a `cat` bucketing value into the hash, and picking among
    /// constant buckets, against hashing the built string and the general
    /// operator.
    mod streaming {
        use proptest::prelude::*;

        use super::*;

        /// A `cat` argument's piece, owned.
        #[derive(Debug, Clone)]
        enum Part {
            Text(String),
            Number(f64),
        }

        fn part() -> impl Strategy<Value = Part> {
            prop_oneof![
                any::<String>().prop_map(Part::Text),
                "[a-z0-9é-]{0,9}".prop_map(Part::Text),
                any::<f64>().prop_map(Part::Number),
                prop::sample::select(vec![
                    0.0,
                    -0.0,
                    1e21,
                    1e-7,
                    123.0,
                    -4.5,
                    f64::NAN,
                    f64::INFINITY,
                    f64::NEG_INFINITY,
                ])
                .prop_map(Part::Number),
            ]
        }

        /// A small JSON value: scalars, buckets and other arrays, objects.
        fn json() -> impl Strategy<Value = Value> {
            let leaf = prop_oneof![
                Just(Value::Null),
                any::<bool>().prop_map(Value::from),
                (-3i64..40).prop_map(Value::from),
                Just(json!(2.5)),
                Just(json!(2_147_483_647)),
                prop::sample::select(vec!["a", "b", "", "user-1"]).prop_map(Value::from),
            ];
            leaf.prop_recursive(2, 8, 3, |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
                    inner.prop_map(|v| json!({ "k": v })),
                ]
            })
        }

        /// A bucket, usually a valid one.
        fn bucket() -> impl Strategy<Value = Value> {
            prop_oneof![
                3 => (prop::sample::select(vec!["a", "b", "c"]), 0u32..50)
                    .prop_map(|(v, w)| json!([v, w])),
                1 => json(),
            ]
        }

        const VERSIONS: [FractionalVersion; 3] = [V1, V2, V3];

        proptest! {
            #[test]
            fn concat_hashes_as_the_built_string(
                prefix in "[a-z-]{0,12}",
                parts in prop::collection::vec(part(), 0..6),
                buckets in prop::collection::vec(bucket(), 1..5),
            ) {
                let pieces: Vec<Piece<'_>> = parts
                    .iter()
                    .map(|p| match p {
                        Part::Text(s) => Piece::Text(s),
                        Part::Number(n) => Piece::Number(*n),
                    })
                    .collect();
                // What `cat` builds from the prefix and the parts.
                let mut built = prefix.clone();
                for part in &parts {
                    match part {
                        Part::Text(s) => Val::Str(s.as_str().into()),
                        Part::Number(n) => Val::Num(*n),
                    }
                    .write_js_string(&mut built);
                }
                let len: usize = pieces.iter().map(|p| p.len()).sum();
                prop_assert_eq!(prefix.len() + len, built.len());
                for version in VERSIONS {
                    let constants = ConstBuckets::new(version, &buckets, &prefix, 1);
                    let source = Source::Concat(Some(&constants.prefix), &pieces);
                    let expected = match version {
                        V3 => {
                            let mut encoding = Vec::new();
                            cbor_text(&mut encoding, &built);
                            murmur3_x86_32(&encoding, 0)
                        }
                        V1 | V2 => murmur3_x86_32(built.as_bytes(), 0),
                    };
                    prop_assert_eq!(hash(version, source), Some(expected), "{}", version);
                    // The general operator over the built string.
                    let args: Vec<Val<'_>> = std::iter::once(Val::Str(built.as_str().into()))
                        .chain(buckets.iter().map(Val::from_json))
                        .collect();
                    let general = fractional(version, &args, "flag", None);
                    let picked = constants.pick(Key::Concat(&pieces), "flag", None);
                    prop_assert_eq!(&picked, &general, "{}", version);
                    let streamed = constants.pick_concat(len, |hasher| {
                        for piece in &pieces {
                            piece.write_to(hasher);
                        }
                    });
                    prop_assert_eq!(&streamed, &general, "{}", version);
                }
            }

            #[test]
            fn constant_buckets_pick_as_the_general_operator(
                first in json(),
                buckets in prop::collection::vec(bucket(), 0..5),
                targeting_key in prop::option::of(json()),
            ) {
                let tk = targeting_key.as_ref().map(Val::from_json);
                let first_val = Val::from_json(&first);
                let args: Vec<Val<'_>> = std::iter::once(first_val.clone())
                    .chain(buckets.iter().map(Val::from_json))
                    .collect();
                for version in VERSIONS {
                    let general = fractional(version, &args, "flag", tk.as_ref());
                    // The first argument evaluated, the buckets constant.
                    let constants = ConstBuckets::new(version, &buckets, "", 0);
                    let picked = constants.pick(Key::Value(&first_val), "flag", tk.as_ref());
                    prop_assert_eq!(&picked, &general, "{} first {}", version, first);
                    // Every argument constant, the first an array: the shorthand.
                    if first.is_array() {
                        let all: Vec<Value> =
                            std::iter::once(first.clone()).chain(buckets.iter().cloned()).collect();
                        let constants = ConstBuckets::new(version, &all, "", 0);
                        let picked = constants.pick(Key::Shorthand, "flag", tk.as_ref());
                        prop_assert_eq!(&picked, &general, "{} shorthand {}", version, first);
                    }
                }
            }
        }
    }
}
