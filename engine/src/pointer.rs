//! JSON pointers (RFC 6901) built while walking a document, for diagnostics
//! and explain traces.

use std::fmt;

/// A JSON pointer under construction.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pointer {
    segments: Vec<String>,
}

impl Pointer {
    /// A pointer starting with the given segments.
    pub fn from_segments<I, S>(segments: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Pointer {
            segments: segments.into_iter().map(Into::into).collect(),
        }
    }

    /// Appends an object key.
    pub fn push(&mut self, key: &str) {
        self.segments.push(key.to_owned());
    }

    /// Appends an array index.
    pub fn push_index(&mut self, index: usize) {
        self.segments.push(index.to_string());
    }

    /// Removes the last segment.
    pub fn pop(&mut self) {
        self.segments.pop();
    }

    /// The pointer without its last segment, rendered.
    pub fn parent_string(&self) -> String {
        let mut parent = self.clone();
        parent.pop();
        parent.to_string()
    }

    /// Renders `base` followed by this pointer.
    pub fn under(&self, base: &str) -> String {
        format!("{base}{self}")
    }
}

impl fmt::Display for Pointer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for segment in &self.segments {
            f.write_str("/")?;
            f.write_str(&escape(segment))?;
        }
        Ok(())
    }
}

/// Escapes one pointer segment (`~` as `~0`, `/` as `~1`).
pub fn escape(segment: &str) -> std::borrow::Cow<'_, str> {
    if segment.contains(['~', '/']) {
        segment.replace('~', "~0").replace('/', "~1").into()
    } else {
        segment.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_segments() {
        let mut p = Pointer::from_segments(["flags", "a/b~c"]);
        p.push_index(3);
        assert_eq!(p.to_string(), "/flags/a~1b~0c/3");
        assert_eq!(p.parent_string(), "/flags/a~1b~0c");
    }
}
