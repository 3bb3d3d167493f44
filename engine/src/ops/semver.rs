//! flagd's `sem_ver` operator: compares two semantic versions, read as
//! leniently as flagd reads them (`v`/`V` prefix, partial versions, numbers).

use ::semver::Version;
use serde_json::Value;

use crate::logic::value::{Val, push_js_number};

/// A sem_ver comparison operator: `=` `!=` `<` `<=` `>` `>=` `^` `~`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SemVerOp {
    /// `=`: equal precedence (build metadata ignored).
    Eq,
    /// `!=`: different precedence.
    Ne,
    /// `<`: lower precedence.
    Lt,
    /// `<=`: lower or equal precedence.
    Le,
    /// `>`: higher precedence.
    Gt,
    /// `>=`: higher or equal precedence.
    Ge,
    /// `^`: same major version.
    Caret,
    /// `~`: same major and minor version.
    Tilde,
}

impl SemVerOp {
    /// Reads an operator from its symbol; `None` for anything else.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "=" => SemVerOp::Eq,
            "!=" => SemVerOp::Ne,
            "<" => SemVerOp::Lt,
            "<=" => SemVerOp::Le,
            ">" => SemVerOp::Gt,
            ">=" => SemVerOp::Ge,
            "^" => SemVerOp::Caret,
            "~" => SemVerOp::Tilde,
            _ => return None,
        })
    }

    /// The operator's symbol.
    pub fn as_str(self) -> &'static str {
        match self {
            SemVerOp::Eq => "=",
            SemVerOp::Ne => "!=",
            SemVerOp::Lt => "<",
            SemVerOp::Le => "<=",
            SemVerOp::Gt => ">",
            SemVerOp::Ge => ">=",
            SemVerOp::Caret => "^",
            SemVerOp::Tilde => "~",
        }
    }
}

/// Reads a version as flagd does, or `None`.
///
/// A string may carry one leading `v` or `V`; `MAJOR` and `MAJOR.MINOR`
/// stand for `MAJOR.0.0` and `MAJOR.MINOR.0` (without pre-release or build
/// parts, as in Go's `golang.org/x/mod/semver`), and a full version follows
/// SemVer 2.0 (no leading zeros, numeric parts that fit in a u64). A number
/// (e.g. an Integer or Float context value) is read from its decimal form, so
/// `2` is `2.0.0` and `1.2` is `1.2.0`. Anything else is not a version.
pub fn parse_version(v: &Val<'_>) -> Option<Version> {
    match v {
        Val::Str(s) => parse_str(s),
        Val::Num(n) => parse_number(*n),
        Val::Json(Value::String(s)) => parse_str(s),
        Val::Json(Value::Number(n)) => parse_number(n.as_f64()?),
        _ => None,
    }
}

fn parse_number(n: f64) -> Option<Version> {
    let mut text = String::new();
    push_js_number(&mut text, n);
    parse_str(&text)
}

fn parse_str(s: &str) -> Option<Version> {
    let s = s.strip_prefix(['v', 'V']).unwrap_or(s);
    let core_len = s.find(['-', '+']).unwrap_or(s.len());
    let (core, suffix) = s.split_at(core_len);
    match core.bytes().filter(|&b| b == b'.').count() {
        2 => Version::parse(s).ok(),
        // Partial versions: no pre-release or build part.
        dots @ (0 | 1) if suffix.is_empty() => {
            let mut full = String::with_capacity(s.len() + 4);
            full.push_str(s);
            for _ in dots..2 {
                full.push_str(".0");
            }
            Version::parse(&full).ok()
        }
        _ => None,
    }
}

/// Applies the operator (build metadata ignored).
pub fn compare(left: &Version, op: SemVerOp, right: &Version) -> bool {
    let order = left.cmp_precedence(right);
    match op {
        SemVerOp::Eq => order.is_eq(),
        SemVerOp::Ne => order.is_ne(),
        SemVerOp::Lt => order.is_lt(),
        SemVerOp::Le => order.is_le(),
        SemVerOp::Gt => order.is_gt(),
        SemVerOp::Ge => order.is_ge(),
        SemVerOp::Caret => left.major == right.major,
        SemVerOp::Tilde => left.major == right.major && left.minor == right.minor,
    }
}

/// flagd's `sem_ver` over already-evaluated arguments `[version, operator,
/// version]`; `None` where flagd yields null (wrong argument count, invalid
/// version or operator).
pub fn sem_ver(args: &[Val<'_>]) -> Option<bool> {
    let [left, op, right] = args else {
        return None;
    };
    let left = parse_version(left)?;
    let op = match op {
        Val::Str(s) => SemVerOp::parse(s)?,
        Val::Json(Value::String(s)) => SemVerOp::parse(s)?,
        _ => return None,
    };
    let right = parse_version(right)?;
    Some(compare(&left, op, &right))
}

/// Reads "MAJOR.MINOR.PATCH" (with an optional v or V, and build metadata,
/// which comparisons ignore) without allocating; `None` for anything else,
/// including leading zeros, which the full parser then rejects.
pub(crate) fn plain_version(s: &str) -> Option<[u64; 3]> {
    let bytes = s.as_bytes();
    let mut pos = usize::from(matches!(bytes.first(), Some(b'v' | b'V')));
    let mut out = [0u64; 3];
    for (i, part) in out.iter_mut().enumerate() {
        let start = pos;
        let mut value: u64 = 0;
        while let Some(&b) = bytes.get(pos) {
            if !b.is_ascii_digit() {
                break;
            }
            value = value.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
            pos += 1;
        }
        let len = pos - start;
        if len == 0 || (len > 1 && bytes[start] == b'0') {
            return None;
        }
        *part = value;
        match (i, bytes.get(pos)) {
            (0 | 1, Some(b'.')) => pos += 1,
            // Build metadata is ignored by comparisons, but must be valid.
            (2, None) => return Some(out),
            (2, Some(b'+')) => {
                let build = &s[pos + 1..];
                let valid = !build.is_empty()
                    && build.split('.').all(|id| {
                        !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                    });
                return valid.then_some(out);
            }
            _ => return None,
        }
    }
    None
}

/// `sem_ver` over two plain versions.
pub(crate) fn compare_plain(left: [u64; 3], op: SemVerOp, right: [u64; 3]) -> bool {
    use SemVerOp as Op;
    match op {
        Op::Eq => left == right,
        Op::Ne => left != right,
        Op::Lt => left < right,
        Op::Le => left <= right,
        Op::Gt => left > right,
        Op::Ge => left >= right,
        Op::Caret => left[0] == right[0],
        Op::Tilde => left[0] == right[0] && left[1] == right[1],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fast path reads plain versions only, and agrees with the full
    /// parser on each of them.
    #[test]
    fn plain_versions_take_the_fast_path() {
        #[track_caller]
        fn check(text: &str, expect: Option<[u64; 3]>) {
            assert_eq!(plain_version(text), expect, "{text}");
            if let Some([major, minor, patch]) = expect {
                let full = parse_version(&Val::Str(text.into()));
                assert_eq!(
                    full.map(|v| [v.major, v.minor, v.patch]),
                    Some([major, minor, patch]),
                    "{text}"
                );
            }
        }
        check("1.2.3", Some([1, 2, 3]));
        check("v10.0.1", Some([10, 0, 1]));
        check("V0.0.0", Some([0, 0, 0]));
        check("1.2.3+build.5", Some([1, 2, 3]));
        check("1.2.3+", None);
        check("1.2.3+a..b", None);
        check("01.2.3", None);
        check("1.2", None);
        check("1.2.3-beta", None);
        check("1.2.3.4", None);
        check("", None);
    }

    /// A context value of a testbed type ("String", "Integer", "Float").
    fn typed(ty: &str, text: &str) -> Val<'static> {
        match ty {
            "String" => Val::Str(text.to_owned().into()),
            "Integer" => Val::Num(text.parse::<i64>().map_or(f64::NAN, |i| i as f64)),
            "Float" => Val::Num(text.parse::<f64>().unwrap_or(f64::NAN)),
            _ => panic!("unknown type {ty}"),
        }
    }

    /// `sem_ver([version, op, target])` with a version of the given testbed
    /// type yields `expect`.
    #[track_caller]
    fn check(ty: &str, version: &str, op: &str, target: &str, expect: Option<bool>) {
        let args = [
            typed(ty, version),
            Val::Str(op.to_owned().into()),
            Val::Str(target.to_owned().into()),
        ];
        assert_eq!(sem_ver(&args), expect, "{ty} {version:?} {op} {target:?}");
    }

    /// `equal-greater-lesser-version-flag`: `=`, `>`, `<` 2.0.0 in turn (and
    /// `= 2.0.0.0`, always null), else "none".
    #[track_caller]
    fn equal_greater_lesser(version: &str, expect: &str) {
        let v = Val::Str(version.to_owned().into());
        let rule = |op: &str, target: &str| {
            sem_ver(&[
                v.clone(),
                Val::Str(op.to_owned().into()),
                Val::Str(target.to_owned().into()),
            ])
            .unwrap_or(false)
        };
        let got = if rule("=", "2.0.0") {
            "equal"
        } else if rule(">", "2.0.0") {
            "greater"
        } else if rule("<", "2.0.0") {
            "lesser"
        } else if rule("=", "2.0.0.0") {
            "fail"
        } else {
            "none"
        };
        assert_eq!(got, expect, "{version}");
    }

    /// `major-minor-version-flag`: `~ 3.0.0` "minor", `^ 3.0.0` "major", else "none".
    #[track_caller]
    fn major_minor(version: &str, expect: &str) {
        let v = Val::Str(version.to_owned().into());
        let rule = |op: &str| {
            sem_ver(&[
                v.clone(),
                Val::Str(op.to_owned().into()),
                Val::Str("3.0.0".into()),
            ])
            .unwrap_or(false)
        };
        let got = if rule("~") {
            "minor"
        } else if rule("^") {
            "major"
        } else {
            "none"
        };
        assert_eq!(got, expect, "{version}");
    }

    #[test]
    fn numeric_comparison() {
        equal_greater_lesser("2.0.0", "equal");
        equal_greater_lesser("2.1.0", "greater");
        equal_greater_lesser("1.9.0", "lesser");
        equal_greater_lesser("2.0.0-alpha", "lesser");
        equal_greater_lesser("2.0.0.0", "none");
    }

    #[test]
    fn semantic_comparison() {
        major_minor("3.0.1", "minor");
        major_minor("3.1.0", "major");
        major_minor("4.0.0", "none");
    }

    #[test]
    fn invalid_input_is_null() {
        // semver-invalid-version-flag, semver-invalid-operator-flag.
        check("String", "not-a-version", "=", "1.0.0", None);
        check("String", "1.0.0", "===", "1.0.0", None);
        // semver-wrong-args-flag: [version, "="].
        let v = Val::Str("1.0.0".into());
        assert_eq!(sem_ver(&[v.clone(), Val::Str("=".into())]), None);
        assert_eq!(sem_ver(&[]), None);
        let four = [v.clone(), Val::Str("=".into()), v.clone(), v.clone()];
        assert_eq!(sem_ver(&four), None);
        // Non-string operators and versions of other types.
        assert_eq!(sem_ver(&[v.clone(), Val::Num(1.0), v.clone()]), None);
        for other in [Val::Null, Val::Bool(true), Val::Arr(vec![v.clone()])] {
            assert_eq!(
                sem_ver(&[other.clone(), Val::Str("=".into()), v.clone()]),
                None
            );
            assert_eq!(sem_ver(&[v.clone(), Val::Str("=".into()), other]), None);
        }
    }

    #[test]
    fn v_prefix() {
        // semver-v-prefix-flag: = v1.0.0.
        check("String", "1.0.0", "=", "v1.0.0", Some(true));
        check("String", "v1.0.0", "=", "v1.0.0", Some(true));
        check("String", "V1.0.0", "=", "v1.0.0", Some(true));
        check("String", "2.0.0", "=", "v1.0.0", Some(false));
    }

    #[test]
    fn partial_versions() {
        // semver-partial-version-flag: ^ 1.
        check("String", "1.5.0", "^", "1", Some(true));
        check("String", "1.0.0", "^", "1", Some(true));
        check("String", "1.0", "^", "1", Some(true));
        check("String", "1", "^", "1", Some(true));
        check("Integer", "1", "^", "1", Some(true));
        check("Float", "1", "^", "1", Some(true));
        check("Float", "1.2", "^", "1", Some(true));
        check("String", "2.0.0", "^", "1", Some(false));
    }

    #[test]
    fn numeric_context() {
        // semver-numeric-context-flag: > 1.1.
        check("Float", "1.2", ">", "1.1", Some(true));
        check("Float", "1.1", ">", "1.1", Some(false));
        check("Integer", "2", ">", "1.1", Some(true));
        check("Integer", "1", ">", "1.1", Some(false));
        check("String", "1.2", ">", "1.1", Some(true));
    }

    #[test]
    fn build_metadata_ignored() {
        // semver-build-metadata-flag: = 1.0.0+build.
        check("String", "1.0.0", "=", "1.0.0+build", Some(true));
        check("String", "1.0.0+other", "=", "1.0.0+build", Some(true));
        check("String", "2.0.0", "=", "1.0.0+build", Some(false));
        check("String", "1.0.0+other", "!=", "1.0.0+build", Some(false));
        check("String", "1.0.0+other", "<", "1.0.0+build", Some(false));
        check("String", "1.0.0+other", "<=", "1.0.0+build", Some(true));
    }

    #[test]
    fn operators() {
        check("String", "1.2.3", "=", "1.2.3", Some(true));
        check("String", "1.2.3", "!=", "1.2.4", Some(true));
        check("String", "1.2.3", "<", "1.10.0", Some(true));
        check("String", "1.2.3", "<=", "1.2.3", Some(true));
        check("String", "1.2.3", ">", "1.2.3", Some(false));
        check("String", "1.2.3", ">=", "1.2.3", Some(true));
        check("String", "1.0.0-alpha", "<", "1.0.0-alpha.1", Some(true));
        check("String", "1.0.0-alpha.1", "<", "1.0.0-beta", Some(true));
        check("String", "1.0.0-beta.2", "<", "1.0.0-beta.11", Some(true));
        check("String", "1.0.0-rc.1", "<", "1.0.0", Some(true));
        // ^ and ~ compare major (and minor) only, pre-releases included.
        check("String", "1.9.9", "^", "1.0.0", Some(true));
        check("String", "0.2.0", "^", "0.1.0", Some(true));
        check("String", "2.0.0-rc.1", "^", "2.5.0", Some(true));
        check("String", "1.2.9", "~", "1.2.0", Some(true));
        check("String", "1.3.0", "~", "1.2.0", Some(false));
        for op in ["=", "!=", "<", "<=", ">", ">=", "^", "~"] {
            assert_eq!(SemVerOp::parse(op).map(SemVerOp::as_str), Some(op));
        }
        for op in ["==", "===", "", " =", "^^", "lt"] {
            assert_eq!(SemVerOp::parse(op), None, "{op:?}");
        }
    }

    /// `parse_version` of a string: `Some("M.m.p[-pre][+build]")` or `None`.
    #[track_caller]
    fn version(text: &str, expect: Option<&str>) {
        let got = parse_version(&Val::Str(text.to_owned().into())).map(|v| v.to_string());
        assert_eq!(got.as_deref(), expect, "{text:?}");
    }

    #[test]
    fn lenient_parsing() {
        version("1.2.3", Some("1.2.3"));
        version("v1.2.3", Some("1.2.3"));
        version("V1.2.3", Some("1.2.3"));
        version("v1", Some("1.0.0"));
        version("V1.2", Some("1.2.0"));
        version("0", Some("0.0.0"));
        version("1.2.3-rc.1+b.5", Some("1.2.3-rc.1+b.5"));
        version("1.2.3+build-7", Some("1.2.3+build-7"));
        version("1.2.3+001", Some("1.2.3+001"));
        // Rejected as Go's golang.org/x/mod/semver rejects them.
        version("vv1.2.3", None);
        version("vV1.2.3", None);
        version("Vv1.2.3", None);
        version("", None);
        version("v", None);
        version("1.2-rc.1", None);
        version("1-rc.1", None);
        version("1.2+build", None);
        version("1.2.3.4", None);
        version("01.2.3", None);
        version("1.02.3", None);
        version("1.2.03", None);
        version("1.", None);
        version("1..3", None);
        version(".1.2", None);
        version("1.2.3-", None);
        version("1.2.3+", None);
        version("1.2.3-01", None);
        version("1.2.3-a..b", None);
        version(" 1.2.3", None);
        version("1.2.3 ", None);
        version("1.2.x", None);
        version("-1.2.3", None);
        version("not-a-version", None);
    }

    #[test]
    fn numbers_read_as_versions() {
        let v = |n: f64| parse_version(&Val::Num(n)).map(|v| v.to_string());
        assert_eq!(v(2.0).as_deref(), Some("2.0.0"));
        assert_eq!(v(1.2).as_deref(), Some("1.2.0"));
        assert_eq!(v(0.5).as_deref(), Some("0.5.0"));
        assert_eq!(v(10.25).as_deref(), Some("10.25.0"));
        assert_eq!(v(1.05), None);
        assert_eq!(v(-1.0), None);
        assert_eq!(v(f64::NAN), None);
        assert_eq!(v(1e21), None);
        let json = serde_json::json!(3);
        assert_eq!(parse_version(&Val::Json(&json)).map(|v| v.major), Some(3));
    }
}
