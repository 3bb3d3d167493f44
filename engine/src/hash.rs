//! A stable content hash (FNV-1a, 64 bits) for versions and ETags.
//!
//! Stable means the same content gives the same hash in every process and
//! release, so evaluation nodes agree on ETags.

use serde_json::Value;

const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const PRIME: u64 = 0x0000_0100_0000_01b3;

/// An incremental FNV-1a hasher.
#[derive(Debug, Clone, Copy)]
pub struct ContentHasher(u64);

impl Default for ContentHasher {
    fn default() -> Self {
        ContentHasher(OFFSET)
    }
}

impl ContentHasher {
    /// Feeds bytes.
    pub fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(PRIME);
        }
    }

    /// Feeds a length-prefixed string, so that ("ab","c") and ("a","bc") differ.
    pub fn write_str(&mut self, s: &str) {
        self.write(&(s.len() as u64).to_le_bytes());
        self.write(s.as_bytes());
    }

    /// Feeds a JSON value in canonical form (object keys sorted).
    pub fn write_json(&mut self, value: &Value) {
        // serde_json's map is ordered by key, so this rendering is canonical.
        self.write_str(&value.to_string());
    }

    /// The hash so far.
    pub fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_answer() {
        let mut h = ContentHasher::default();
        h.write(b"a");
        assert_eq!(h.finish(), 0xaf63_dc4c_8601_ec8c);
    }

    #[test]
    fn key_order_does_not_matter() {
        let a: Value = serde_json::from_str(r#"{"x":1,"y":2}"#).unwrap();
        let b: Value = serde_json::from_str(r#"{"y":2,"x":1}"#).unwrap();
        let (mut ha, mut hb) = (ContentHasher::default(), ContentHasher::default());
        ha.write_json(&a);
        hb.write_json(&b);
        assert_eq!(ha.finish(), hb.finish());
    }
}
