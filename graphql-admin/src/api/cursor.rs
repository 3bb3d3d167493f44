//! The cursor of a flag list, opaque to clients: the order it was made
//! under, the last flag's key and its time of change, as JSON in URL-safe
//! base64. A cursor is only read back under the order it was made for.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use store::{FlagCursor, FlagSort};

/// Why a cursor sent as `after` cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CursorError {
    /// Not a cursor this API made (cut, edited, or from another list).
    #[error(
        "it is not a cursor of a flag list: pass a page's `next` as it is, or leave `after` \
         out to start from the first page"
    )]
    Garbled,
    /// A cursor made under another order, where it marks no place.
    #[error(
        "it was made for sort {made_for}, not {asked}: leave `after` out to start the list \
         over in the new order"
    )]
    OtherSort {
        /// The order it was made under.
        made_for: &'static str,
        /// The order asked for.
        asked: &'static str,
    },
}

/// What a cursor holds.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Payload {
    sort: String,
    key: String,
    /// RFC 3339, to the nanosecond.
    at: String,
}

/// The cursor of the page that ends at `cursor`, in `sort`'s order.
pub(super) fn encode(sort: FlagSort, cursor: &FlagCursor) -> String {
    let payload = Payload {
        sort: sort_name(sort).to_owned(),
        key: cursor.key.clone(),
        at: cursor.updated_at.format(&Rfc3339).unwrap_or_default(),
    };
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&payload).unwrap_or_default())
}

/// Reads a cursor back for a list in `sort`'s order.
pub(super) fn decode(sort: FlagSort, text: &str) -> Result<FlagCursor, CursorError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|_| CursorError::Garbled)?;
    let payload: Payload = serde_json::from_slice(&bytes).map_err(|_| CursorError::Garbled)?;
    let made_for = SORTS
        .into_iter()
        .find(|s| sort_name(*s) == payload.sort)
        .ok_or(CursorError::Garbled)?;
    if made_for != sort {
        return Err(CursorError::OtherSort {
            made_for: sort_name(made_for),
            asked: sort_name(sort),
        });
    }
    let updated_at =
        OffsetDateTime::parse(&payload.at, &Rfc3339).map_err(|_| CursorError::Garbled)?;
    Ok(FlagCursor {
        key: payload.key,
        updated_at,
    })
}

const SORTS: [FlagSort; 4] = [
    FlagSort::KeyAsc,
    FlagSort::KeyDesc,
    FlagSort::UpdatedDesc,
    FlagSort::UpdatedAsc,
];

/// An order's name, as the schema's `FlagSort` spells it.
pub(super) fn sort_name(sort: FlagSort) -> &'static str {
    match sort {
        FlagSort::KeyAsc => "KEY_ASC",
        FlagSort::KeyDesc => "KEY_DESC",
        FlagSort::UpdatedDesc => "UPDATED_DESC",
        FlagSort::UpdatedAsc => "UPDATED_ASC",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cursor() -> FlagCursor {
        FlagCursor {
            key: "checkout/new \u{e9}".into(),
            updated_at: OffsetDateTime::parse("2026-01-01T10:00:00.123456789Z", &Rfc3339).unwrap(),
        }
    }

    #[test]
    fn a_cursor_reads_back_under_its_own_order_only() {
        for sort in SORTS {
            let text = encode(sort, &cursor());
            assert_eq!(decode(sort, &text), Ok(cursor()));
            for other in SORTS.into_iter().filter(|o| *o != sort) {
                assert_eq!(
                    decode(other, &text),
                    Err(CursorError::OtherSort {
                        made_for: sort_name(sort),
                        asked: sort_name(other),
                    })
                );
            }
        }
    }

    #[test]
    fn anything_else_is_garbled() {
        let valid = encode(FlagSort::KeyAsc, &cursor());
        let json = |value: serde_json::Value| URL_SAFE_NO_PAD.encode(value.to_string());
        let garbled = [
            String::new(),
            "flag-0001".into(),
            "not base64!".into(),
            valid[..valid.len() - 3].to_owned(),
            format!("{valid}="),
            json(serde_json::json!([])),
            json(serde_json::json!({"sort": "KEY_ASC", "key": "a"})),
            json(
                serde_json::json!({"sort": "BY_COLOUR", "key": "a", "at": "2026-01-01T10:00:00Z"}),
            ),
            json(serde_json::json!({"sort": "KEY_ASC", "key": "a", "at": "yesterday"})),
            json(
                serde_json::json!({"sort": "KEY_ASC", "key": "a", "at": "2026-01-01T10:00:00Z", "x": 1}),
            ),
        ];
        for text in garbled {
            assert_eq!(
                decode(FlagSort::KeyAsc, &text),
                Err(CursorError::Garbled),
                "{text:?}"
            );
        }
    }
}
