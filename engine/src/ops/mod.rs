//! flagd's custom JSONLogic operators.

pub mod fractional;
pub mod semver;
