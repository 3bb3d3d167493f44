//! The nesting check of GraphQL query text, run before the text is parsed.
//!
//! async-graphql's parser recurses once per nested value, so a few KB of
//! `[[[[…]]]]` in an argument would overflow the stack and abort the whole
//! process before any depth limit of the schema is looked at. A flat scan
//! of the text counts the brackets instead: `[`, `{` and `(` outside
//! strings, block strings and comments.
//!
//! Two bounds apply. A literal (the brackets opened since the innermost
//! `(`, that is inside an argument list or variable definitions) may nest
//! [`engine::MAX_DATA_DEPTH`] levels, the bound of all data Ensign reads.
//! All brackets together may nest [`MAX_QUERY_NESTING`] levels: such a
//! literal under selection sets as deep as the schema allows
//! ([`super::schema::MAX_DEPTH`]) with inline fragments and an argument
//! list, within [`SELECTION_MARGIN`].
//!
//! The scan reads strings as the parser does, so that no bracket the parser
//! would descend into is hidden from the count: an ordinary string ends at
//! its closing quote or at a line end (where the parser gives up on it),
//! and a block string that is never closed is read, as the parser falls
//! back to reading it, as an empty string followed by an ordinary one.

use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextParseQuery};
use async_graphql::parser::types::ExecutableDocument;
use async_graphql::{Pos, ServerResult, Variables};
use std::sync::Arc;

use super::error::ApiError;
use engine::MAX_DATA_DEPTH;

/// How much deeper than a literal's own nesting the whole query may nest:
/// selection sets (at most [`super::schema::MAX_DEPTH`], plus inline
/// fragments) and the argument list around the literal.
pub const SELECTION_MARGIN: usize = 32;

/// The deepest nesting of brackets accepted anywhere in a query.
pub const MAX_QUERY_NESTING: usize = MAX_DATA_DEPTH + SELECTION_MARGIN;

/// Why a query was refused before parsing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NestingError {
    /// A literal (argument value, variable default) nests too deep.
    #[error("a value in the query nests deeper than {limit} levels")]
    LiteralTooDeep {
        /// The bound: [`engine::MAX_DATA_DEPTH`].
        limit: usize,
    },
    /// The query's brackets as a whole nest too deep.
    #[error("the query nests deeper than {limit} levels")]
    QueryTooDeep {
        /// The bound: [`MAX_QUERY_NESTING`].
        limit: usize,
    },
}

/// Checks `query` against the bounds without parsing it.
pub fn check(query: &str) -> Result<(), NestingError> {
    check_with(query, MAX_DATA_DEPTH, MAX_QUERY_NESTING)
}

/// Checks `query` against a literal bound and a total bound.
pub fn check_with(query: &str, literal: usize, total: usize) -> Result<(), NestingError> {
    let bytes = query.as_bytes();
    let mut depth = 0usize;
    // The depth just inside each open `(`: a literal's nesting is counted
    // from the innermost one.
    let mut parens: Vec<usize> = Vec::new();
    let mut block_strings = true;
    let mut i = 0;
    while let Some(&byte) = bytes.get(i) {
        match byte {
            b'#' => {
                while bytes.get(i).is_some_and(|&b| b != b'\n' && b != b'\r') {
                    i += 1;
                }
                continue;
            }
            b'"' if block_strings && bytes[i..].starts_with(b"\"\"\"") => {
                match block_string_end(bytes, i + 3) {
                    Some(end) => i = end,
                    None => {
                        // Never closed: the parser reads `""` and then an
                        // ordinary string; no later block string closes
                        // either.
                        block_strings = false;
                        i += 1;
                        i = string_end(bytes, i);
                    }
                }
                continue;
            }
            b'"' => {
                i = string_end(bytes, i + 1);
                continue;
            }
            b'[' | b'{' | b'(' => {
                depth += 1;
                if depth > total {
                    return Err(NestingError::QueryTooDeep { limit: total });
                }
                if byte == b'(' {
                    parens.push(depth);
                } else if let Some(&inside) = parens.last()
                    && depth - inside > literal
                {
                    return Err(NestingError::LiteralTooDeep { limit: literal });
                }
            }
            b']' | b'}' | b')' => {
                // Mismatched closers are the parser's to refuse; here they
                // only close the innermost bracket.
                depth = depth.saturating_sub(1);
                while parens.last().is_some_and(|&inside| inside > depth) {
                    parens.pop();
                }
            }
            _ => {}
        }
        i += 1;
    }
    Ok(())
}

/// The position after the string whose content starts at `i`: after its
/// closing quote, or at the line end or end of text that cuts it short.
fn string_end(bytes: &[u8], mut i: usize) -> usize {
    while let Some(&byte) = bytes.get(i) {
        match byte {
            b'\\' => i += 2,
            b'"' => return i + 1,
            b'\n' | b'\r' => return i,
            _ => i += 1,
        }
    }
    bytes.len()
}

/// The position after the closing `"""` of the block string whose content
/// starts at `i` (`\"""` is an escaped quote triple), if it is closed.
fn block_string_end(bytes: &[u8], mut i: usize) -> Option<usize> {
    while i < bytes.len() {
        if bytes[i..].starts_with(b"\\\"\"\"") {
            i += 4;
        } else if bytes[i..].starts_with(b"\"\"\"") {
            return Some(i + 3);
        } else {
            i += 1;
        }
    }
    None
}

/// The schema extension that runs [`check`] on every query text before it
/// is parsed, over HTTP and WebSocket alike. A refused query is answered
/// with [`ApiError::NestingTooDeep`].
#[derive(Debug, Clone, Copy, Default)]
pub struct NestingLimit;

impl ExtensionFactory for NestingLimit {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(NestingLimit)
    }
}

#[async_trait::async_trait]
impl Extension for NestingLimit {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        if let Err(error) = check(query) {
            return Err(ApiError::NestingTooDeep { error }.server_error(Some(Pos::default())));
        }
        next.run(ctx, query, variables).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Checks `query` with a literal bound of 3 and a total bound of 6.
    #[track_caller]
    fn check_small(query: &str, expect: Result<(), NestingError>) {
        assert_eq!(check_with(query, 3, 6), expect, "{query:?}");
    }

    const LITERAL: Result<(), NestingError> = Err(NestingError::LiteralTooDeep { limit: 3 });
    const TOTAL: Result<(), NestingError> = Err(NestingError::QueryTooDeep { limit: 6 });

    #[test]
    fn literals_nest_up_to_their_bound() {
        check_small("{ f(a: [[[1]]]) }", Ok(()));
        check_small("{ f(a: [[[[1]]]]) }", LITERAL);
        check_small("{ f(a: {x: {y: [1]}}) }", Ok(()));
        check_small("{ f(a: {x: {y: [{z: 1}]}}) }", LITERAL);
        // Counted from the innermost argument list, wherever it is.
        check_small("{ a { f(a: [[[1]]]) } }", Ok(()));
        check_small("{ a { b { f(a: [[1]]) } } }", Ok(()));
        check_small("query($v: [[[Int]]] = [[[1]]]) { f }", Ok(()));
        check_small("query($v: [[[[Int]]]]) { f }", LITERAL);
        // A directive's argument list inside variable definitions.
        check_small("query($v: Int @d(x: [[[1]]])) { f }", Ok(()));
        // Siblings do not add up.
        check_small("{ f(a: [[[1]]], b: [[[2]]]) g(a: [[[3]]]) }", Ok(()));
    }

    #[test]
    fn the_whole_query_nests_up_to_its_bound() {
        check_small("{a{b{c{d{e{f}}}}}}", Ok(()));
        check_small("{a{b{c{d{e{f{g}}}}}}}", TOTAL);
        check_small("{a{b{c{d{e(x: 1)}}}}}", Ok(()));
        check_small("{a{b{c{d{e(x: [1])}}}}}", TOTAL);
        check_small("(((((((", TOTAL);
    }

    #[test]
    fn brackets_in_strings_and_comments_do_not_count() {
        check_small(r#"{ f(a: "[[[[[[[[") }"#, Ok(()));
        check_small(r#"{ f(a: "\"[[[[[[[[") }"#, Ok(()));
        check_small(r#"{ f(a: "\\", b: [[[[1]]]]) }"#, LITERAL);
        check_small(r#"{ f(a: """[[[[[[[[ " "" """) }"#, Ok(()));
        check_small(r#"{ f(a: """ \""" [[[[[[[[ """) }"#, Ok(()));
        check_small("{ f # [[[[[[[[\n }", Ok(()));
        check_small("{ f # [[[[[[[[\r g(a: [[[[1]]]]) }", LITERAL);
        // A `#` inside a string starts no comment.
        check_small(r##"{ f(a: "#", b: [[[[1]]]]) }"##, LITERAL);
    }

    #[test]
    fn text_the_parser_would_read_otherwise_is_counted() {
        // A string ends at a line end, as GraphQL strings must.
        check_small("{ f(a: \"open\n[[[[1]]]]) }", LITERAL);
        // A block string never closed is `""` and an ordinary string,
        // which ends at the line end.
        check_small("{ f(a: \"\"\" \n[[[[1]]]]) }", LITERAL);
        check_small("{ f(a: \"\"\" \\\"\"\" \n[[[[1]]]]) }", LITERAL);
        // A string cut by the end of the text.
        check_small(r#"{ f(a: "abc\"#, Ok(()));
    }

    #[test]
    fn unbalanced_text_is_left_to_the_parser() {
        check_small("}}}}}}}}{ f(a: [[[1]]]) }", Ok(()));
        check_small("{ f(a: [[[1]]]]]]]]]]) }", Ok(()));
        // Mismatched closers close the innermost bracket.
        check_small("{ f(a: [[[1}))}} { g(a: [[[[1]]]]) }", LITERAL);
        check_small("{{{{{{))))))(((((( ", Ok(()));
        check_small("{{{{{{))))))((((((( ", TOTAL);
        check_small("", Ok(()));
        check_small("\"", Ok(()));
        check_small("\"\"\"", Ok(()));
    }

    #[test]
    fn the_real_bounds_follow_the_data_bound() {
        let literal =
            |depth: usize| format!("{{ f(a: {}1{}) }}", "[".repeat(depth), "]".repeat(depth));
        assert_eq!(check(&literal(MAX_DATA_DEPTH)), Ok(()));
        assert_eq!(
            check(&literal(MAX_DATA_DEPTH + 1)),
            Err(NestingError::LiteralTooDeep {
                limit: MAX_DATA_DEPTH
            })
        );
        assert!(check(&literal(1400)).is_err());
        // The deepest literal under the deepest selection the schema allows.
        let depth = super::super::schema::MAX_DEPTH;
        let query = format!(
            "{}{}{}",
            "{ a ".repeat(depth),
            literal(MAX_DATA_DEPTH),
            "}".repeat(depth)
        );
        assert_eq!(check(&query), Ok(()));
        assert_eq!(
            check(&"{".repeat(MAX_QUERY_NESTING + 1)),
            Err(NestingError::QueryTooDeep {
                limit: MAX_QUERY_NESTING
            })
        );
    }
}
