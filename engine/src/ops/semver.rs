//! TEMPORARY STUB
use crate::logic::value::Val;
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SemVerOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Caret,
    Tilde,
}
impl SemVerOp {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "=" => Some(Self::Eq),
            _ => None,
        }
    }
}
pub fn parse_version(_v: &Val<'_>) -> Option<semver::Version> {
    None
}
pub fn compare(_l: &semver::Version, _op: SemVerOp, _r: &semver::Version) -> bool {
    false
}
pub fn sem_ver(_args: &[Val<'_>]) -> Option<bool> {
    None
}
