//! TEMPORARY STUB
use crate::logic::value::Val;
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum FractionalVersion {
    V1,
    #[default]
    V2,
    V3,
}
impl FractionalVersion {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::V1 => "v1",
            Self::V2 => "v2",
            Self::V3 => "v3",
        }
    }
}
impl std::str::FromStr for FractionalVersion {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "v1" => Ok(Self::V1),
            "v2" => Ok(Self::V2),
            "v3" => Ok(Self::V3),
            _ => Err(s.into()),
        }
    }
}
#[derive(Debug)]
pub struct Pick<'a> {
    pub variant: Val<'a>,
    pub bucket: u64,
    pub hash: u32,
}
pub fn fractional<'a>(
    _v: FractionalVersion,
    _args: &[Val<'a>],
    _flag_key: &str,
    _tk: Option<&Val<'a>>,
) -> Option<Pick<'a>> {
    None
}
