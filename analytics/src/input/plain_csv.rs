//! A fast path for plain CSV: a file without a quote character, every line
//! with the header's number of fields, every needed field present and
//! well formed. Such a file (what Ensign's exports and most pipelines
//! write) is read in blocks, each block split at line ends and parsed on
//! every core, straight into the analysis' types: the needed columns as
//! text, timestamps as microseconds, values as numbers. Anything else
//! (a quote, a short line, an empty key, a timestamp that is not RFC 3339,
//! a value that is not a plain decimal) gives the file back to Polars'
//! reader, which reads every CSV and names a bad row by its line.
//!
//! Polars' reader splits a file into lines on one thread before it parses
//! on many; on two cores that split was a fifth of the whole analysis.

use std::fs::File;
use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use polars::prelude::*;

use super::Kind;
use super::rfc3339_micros;

/// How much of the file is read and parsed at a time.
const BLOCK_BYTES: usize = 16 << 20;

/// The most distinct values a text column keeps as codes: beyond them
/// (targeting keys, say) it is kept as text.
const MAX_CODES: usize = 32;

/// A plain file as read: its columns, a text column with few distinct
/// values as codes (`UInt32`) with its dictionary, so that a flag key or a
/// variant takes four bytes per row rather than sixteen.
pub(super) struct Plain {
    /// The columns in `kind`'s order.
    pub frame: DataFrame,
    /// The dictionary of each coded column: code `i` is `values[i]`.
    pub dictionaries: Vec<(&'static str, Arc<Vec<String>>)>,
}

/// The file at `path` with `kind`'s columns in their analysis types, or
/// `None` when it is not plain (or cannot be read here: Polars' reader
/// then says why).
pub(super) fn read(kind: Kind, path: &Path) -> Option<Plain> {
    read_in_blocks(kind, path, BLOCK_BYTES)
}

/// [`read`] with blocks of `block` bytes; a line longer than a block is
/// left to Polars' reader.
fn read_in_blocks(kind: Kind, path: &Path, block: usize) -> Option<Plain> {
    let mut file = File::open(path).ok()?;
    let mut buffer = Vec::with_capacity(block + (1 << 16));
    let mut header_end = None;
    // The header: up to the first line end, read in small steps.
    while header_end.is_none() {
        let start = buffer.len();
        buffer.resize(start + (1 << 16), 0);
        let n = file.read(&mut buffer[start..]).ok()?;
        buffer.truncate(start + n);
        header_end = buffer.iter().position(|&b| b == b'\n');
        if n == 0 && header_end.is_none() {
            return None;
        }
    }
    let header_end = header_end?;
    let layout = Layout::of(kind, &buffer[..header_end])?;
    buffer.drain(..=header_end);

    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let mut parts: Vec<Owned> = Vec::new();
    let mut eof = false;
    while !eof {
        let start = buffer.len();
        buffer.resize(start + block, 0);
        let mut filled = start;
        while filled < buffer.len() {
            let n = file.read(&mut buffer[filled..]).ok()?;
            if n == 0 {
                eof = true;
                break;
            }
            filled += n;
        }
        buffer.truncate(filled);
        // Whole lines now; a last line without a line end at the end.
        let end = if eof {
            buffer.len()
        } else {
            buffer.iter().rposition(|&b| b == b'\n')? + 1
        };
        let block = &buffer[..end];
        if block.contains(&b'"') {
            return None;
        }
        let parsed = std::thread::scope(|scope| {
            let handles: Vec<_> = split(block, threads)
                .into_iter()
                .map(|piece| scope.spawn(|| layout.parse(piece)))
                .collect();
            handles
                .into_iter()
                .map(|handle| handle.join().ok().flatten())
                .collect::<Option<Vec<Owned>>>()
        })?;
        parts.extend(parsed);
        buffer.drain(..end);
    }
    layout.frame(parts)
}

/// Where the needed columns are in a line, by the header.
struct Layout {
    kind: Kind,
    /// The header's number of fields.
    fields: usize,
    /// The index of each of `kind`'s columns, in their order.
    index: [usize; 4],
}

impl Layout {
    fn of(kind: Kind, header: &[u8]) -> Option<Layout> {
        let header = std::str::from_utf8(header).ok()?;
        if header.ends_with('\r') || header.contains('"') {
            return None;
        }
        let names: Vec<&str> = header.split(',').collect();
        let mut index = [0; 4];
        for (slot, column) in index.iter_mut().zip(kind.columns()) {
            let mut found = names.iter().enumerate().filter(|(_, n)| **n == column);
            *slot = found.next()?.0;
            if found.next().is_some() {
                return None;
            }
        }
        Some(Layout {
            kind,
            fields: names.len(),
            index,
        })
    }

    /// Parses whole lines; `None` when one is not plain.
    fn parse(&self, piece: &[u8]) -> Option<Owned> {
        let lines = bytecount(piece);
        let mut part = Part {
            text: [Text::new(lines), Text::new(lines), Text::new(lines)],
            timestamp_us: Vec::with_capacity(lines),
            value: Vec::new(),
        };
        let mut fields: Vec<&[u8]> = Vec::with_capacity(self.fields);
        let body = piece.strip_suffix(b"\n").unwrap_or(piece);
        if body.is_empty() {
            return Some(part.owned());
        }
        for line in body.split(|&b| b == b'\n') {
            // An empty line, or a line end with a carriage return, is for
            // Polars' reader to judge.
            if line.is_empty() || line.ends_with(b"\r") {
                return None;
            }
            fields.clear();
            fields.extend(line.split(|&b| b == b','));
            if fields.len() != self.fields {
                return None;
            }
            let mut texts = 0;
            for (column, &at) in self.kind.columns().iter().zip(&self.index) {
                let field = fields[at];
                match *column {
                    "timestamp" => part
                        .timestamp_us
                        .push(rfc3339_micros(std::str::from_utf8(field).ok()?)?),
                    "value" => part.value.push(decimal(field)?),
                    _ => {
                        if field.is_empty() {
                            return None;
                        }
                        part.text[texts].push(std::str::from_utf8(field).ok()?);
                        texts += 1;
                    }
                }
            }
        }
        Some(part.owned())
    }

    /// The parts, in file order, as one frame whose columns keep the
    /// parts' chunks (nothing is copied again).
    fn frame(&self, parts: Vec<Owned>) -> Option<Plain> {
        if parts.iter().all(|part| part.timestamp_us.is_empty()) {
            return None;
        }
        let mut texts: [Vec<OwnedText>; 3] = [Vec::new(), Vec::new(), Vec::new()];
        let mut timestamp_us = Int64Chunked::from_vec("".into(), Vec::new());
        let mut value = Float64Chunked::from_vec("".into(), Vec::new());
        for part in parts {
            for (column, text) in texts.iter_mut().zip(part.strings) {
                column.push(text);
            }
            timestamp_us.append(&part.timestamp_us).ok()?;
            value.append(&part.value).ok()?;
        }
        let mut texts = texts.into_iter();
        let (mut timestamp_us, mut value) = (Some(timestamp_us), Some(value));
        let mut columns = Vec::with_capacity(4);
        let mut dictionaries = Vec::new();
        for column in self.kind.columns() {
            let data = match column {
                "timestamp" => timestamp_us.take()?.into_column(),
                "value" => value.take()?.into_column(),
                _ => match merge(texts.next()?)? {
                    Merged::Coded(codes, dictionary) => {
                        dictionaries.push((column, dictionary));
                        codes.into_column()
                    }
                    Merged::Plain(strings) => strings.into_column(),
                },
            };
            columns.push(data.with_name(column.into()));
        }
        Some(Plain {
            frame: DataFrame::new_infer_height(columns).ok()?,
            dictionaries,
        })
    }
}

/// One piece's text column while it is parsed: codes while its values are
/// few, text after.
enum Text<'a> {
    Coded {
        values: Vec<&'a str>,
        codes: Vec<u8>,
    },
    Plain(Vec<&'a str>),
}

impl<'a> Text<'a> {
    fn new(lines: usize) -> Text<'a> {
        Text::Coded {
            values: Vec::new(),
            codes: Vec::with_capacity(lines),
        }
    }

    fn push(&mut self, value: &'a str) {
        match self {
            Text::Coded { values, codes } => {
                // The row before first: neighbours often share a value.
                let known = codes
                    .last()
                    .filter(|&&code| values[usize::from(code)] == value)
                    .copied()
                    .or_else(|| {
                        values
                            .iter()
                            .position(|known| *known == value)
                            .and_then(|at| u8::try_from(at).ok())
                    });
                match known {
                    Some(code) => codes.push(code),
                    None if values.len() < MAX_CODES => {
                        codes.push(u8::try_from(values.len()).unwrap_or(u8::MAX));
                        values.push(value);
                    }
                    None => {
                        let mut plain: Vec<&str> = Vec::with_capacity(codes.capacity());
                        plain.extend(codes.iter().map(|&code| values[usize::from(code)]));
                        plain.push(value);
                        *self = Text::Plain(plain);
                    }
                }
            }
            Text::Plain(values) => values.push(value),
        }
    }

    fn owned(self) -> OwnedText {
        match self {
            Text::Coded { values, codes } => OwnedText::Coded {
                values: values.into_iter().map(str::to_owned).collect(),
                codes,
            },
            Text::Plain(values) => OwnedText::Plain(StringChunked::from_iter_values(
                "".into(),
                values.into_iter(),
            )),
        }
    }
}

/// One piece's text column, owned.
enum OwnedText {
    Coded { values: Vec<String>, codes: Vec<u8> },
    Plain(StringChunked),
}

/// A text column of the whole file.
enum Merged {
    Coded(UInt32Chunked, Arc<Vec<String>>),
    Plain(StringChunked),
}

/// The pieces of one text column as one: codes into one dictionary while
/// every piece is coded and the values stay few, text otherwise.
fn merge(pieces: Vec<OwnedText>) -> Option<Merged> {
    let mut dictionary: Vec<String> = Vec::new();
    let mut coded = Vec::with_capacity(pieces.len());
    for piece in &pieces {
        let OwnedText::Coded { values, codes } = piece else {
            return plain(pieces);
        };
        let mut map = Vec::with_capacity(values.len());
        for value in values {
            let code = match dictionary.iter().position(|known| known == value) {
                Some(at) => at,
                None => {
                    dictionary.push(value.clone());
                    dictionary.len() - 1
                }
            };
            map.push(u8::try_from(code).ok()?);
        }
        if dictionary.len() > MAX_CODES {
            return plain(pieces);
        }
        coded.push(
            codes
                .iter()
                .map(|&code| u32::from(map[usize::from(code)]))
                .collect::<Vec<u32>>(),
        );
    }
    let mut codes = UInt32Chunked::from_vec("".into(), Vec::new());
    for piece in coded {
        codes
            .append(&UInt32Chunked::from_vec("".into(), piece))
            .ok()?;
    }
    Some(Merged::Coded(codes, Arc::new(dictionary)))
}

/// The pieces of one text column as text.
fn plain(pieces: Vec<OwnedText>) -> Option<Merged> {
    let mut strings = StringChunked::from_iter_values("".into(), std::iter::empty::<&str>());
    for piece in pieces {
        let piece = match piece {
            OwnedText::Coded { values, codes } => StringChunked::from_iter_values(
                "".into(),
                codes.iter().map(|&code| values[usize::from(code)].as_str()),
            ),
            OwnedText::Plain(piece) => piece,
        };
        strings.append(&piece).ok()?;
    }
    Some(Merged::Plain(strings))
}

/// One piece's columns while it is parsed, borrowing the block.
struct Part<'a> {
    text: [Text<'a>; 3],
    timestamp_us: Vec<i64>,
    value: Vec<Option<f64>>,
}

/// One piece's columns, owned.
struct Owned {
    strings: [OwnedText; 3],
    timestamp_us: Int64Chunked,
    value: Float64Chunked,
}

impl Part<'_> {
    fn owned(self) -> Owned {
        let [a, b, c] = self.text;
        Owned {
            strings: [a.owned(), b.owned(), c.owned()],
            timestamp_us: Int64Chunked::from_vec("".into(), self.timestamp_us),
            value: self.value.into_iter().collect(),
        }
    }
}

/// The expression that reads coded column `column` back as text, a morsel
/// at a time: a gather of the dictionary's string views.
pub(super) fn decode(column: &'static str, dictionary: Arc<Vec<String>>) -> Expr {
    let values = StringChunked::from_iter_values("".into(), dictionary.iter().map(String::as_str));
    col(column).map(
        move |codes| {
            let text = values.take(codes.u32()?)?;
            Ok(text.with_name(codes.name().clone()).into_column())
        },
        |_, field| Ok(Field::new(field.name().clone(), DataType::String)),
    )
}

/// `block` in up to `n` pieces of whole lines.
fn split(block: &[u8], n: usize) -> Vec<&[u8]> {
    let mut pieces = Vec::with_capacity(n);
    let mut rest = block;
    for left in (1..=n).rev() {
        if left == 1 || rest.is_empty() {
            pieces.push(rest);
            break;
        }
        let target = rest.len() / left;
        let cut = rest[target..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(rest.len(), |at| target + at + 1);
        let (piece, after) = rest.split_at(cut);
        pieces.push(piece);
        rest = after;
    }
    pieces
}

/// The number of line ends in `bytes`, plus one for a last line without.
fn bytecount(bytes: &[u8]) -> usize {
    bytes.iter().filter(|&&b| b == b'\n').count() + 1
}

/// A value field: empty is no value; otherwise `-?digits[.digits]`, which
/// every reader parses the same, as the nearest double. `None` for
/// anything else, which is left to Polars' reader to judge.
fn decimal(field: &[u8]) -> Option<Option<f64>> {
    if field.is_empty() {
        return Some(None);
    }
    let digits = field.strip_prefix(b"-").unwrap_or(field);
    let (whole, fraction) = match digits.iter().position(|&b| b == b'.') {
        Some(dot) => (&digits[..dot], Some(&digits[dot + 1..])),
        None => (digits, None),
    };
    let plain = |part: &[u8]| !part.is_empty() && part.iter().all(u8::is_ascii_digit);
    if !plain(whole) || fraction.is_some_and(|f| !plain(f)) {
        return None;
    }
    std::str::from_utf8(field)
        .ok()?
        .parse::<f64>()
        .ok()
        .map(Some)
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use polars::prelude::*;

    use super::read_in_blocks;
    use crate::input::{Format, Kind, Table, Typing};

    /// A file holding `text`, of a name no other test (they run at once)
    /// writes.
    fn file(name: &str, text: &str) -> PathBuf {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!("ensign-plain-csv-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let unique = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = dir.join(format!("{unique}-{name}"));
        std::fs::write(&path, text).unwrap();
        path
    }

    /// The table as the analysis sees it, read by Polars' reader alone.
    fn by_polars(kind: Kind, path: &std::path::Path) -> DataFrame {
        let frame = LazyCsvReader::new(PlRefPath::try_from_path(path).unwrap())
            .with_has_header(true)
            .with_infer_schema_length(Some(0))
            .finish()
            .unwrap();
        Table::new(kind, "test".into(), frame, Some(Format::Csv), Typing::Text)
            .unwrap()
            .frame
            .collect()
            .unwrap()
    }

    /// The table as the fast path reads it, in blocks of `block` bytes.
    fn by_fast_path(kind: Kind, path: &std::path::Path, block: usize) -> Option<DataFrame> {
        let plain = read_in_blocks(kind, path, block)?;
        Some(
            Table::new(
                kind,
                "test".into(),
                plain.frame.lazy(),
                Some(Format::Csv),
                Typing::Plain(plain.dictionaries),
            )
            .unwrap()
            .frame
            .collect()
            .unwrap(),
        )
    }

    #[track_caller]
    fn same(kind: Kind, text: &str) {
        let path = file("same.csv", text);
        let expected = by_polars(kind, &path);
        for block in [64, 100, 1 << 20] {
            let got = by_fast_path(kind, &path, block)
                .unwrap_or_else(|| panic!("not read as plain in blocks of {block}: {text}"));
            assert!(got.equals_missing(&expected), "{got}\n{expected}");
        }
    }

    #[track_caller]
    fn not_plain(kind: Kind, text: &str) {
        let path = file("not-plain.csv", text);
        assert!(read_in_blocks(kind, &path, 1 << 20).is_none(), "{text}");
    }

    fn exposures(lines: usize) -> String {
        let mut text = String::from("flag_set,flag_key,variant,targeting_key,timestamp\n");
        for i in 0..lines {
            text.push_str(&format!(
                "shop,checkout,{},user-{i:08},2026-03-01T10:{:02}:{:02}.{:06}Z\n",
                if i % 3 == 0 { "treatment" } else { "control" },
                i / 60 % 60,
                i % 60,
                i * 7919 % 1_000_000
            ));
        }
        text
    }

    #[test]
    fn plain_files_read_as_polars_reads_them() {
        // Many blocks and pieces, an extra leading column, a last line
        // without its line end.
        same(Kind::Exposures, &exposures(300));
        same(Kind::Exposures, exposures(7).trim_end());
        // Columns in another order, offsets, missing values.
        same(
            Kind::Events,
            "value,timestamp,targeting_key,event_name\n\
             12.5,2026-03-01T10:00:00+02:00,u1,purchase\n\
             ,2026-03-01T10:00:01Z,u2,page_view\n\
             -3,2026-03-01T10:00:02.5-01:30,u1,refund\n\
             0.10000000000000001,2026-03-01T10:00:03Z,ü,purchase\n",
        );
    }

    #[test]
    fn columns_of_few_values_are_kept_as_codes() {
        let path = file("coded.csv", &exposures(300));
        let coded = |block| {
            read_in_blocks(Kind::Exposures, &path, block)
                .unwrap()
                .dictionaries
                .into_iter()
                .map(|(column, values)| (column, values.len()))
                .collect::<Vec<_>>()
        };
        // The keys are all distinct: text. The flag and the variant: codes,
        // however the file was cut.
        assert_eq!(coded(64), [("flag_key", 1), ("variant", 2)]);
        assert_eq!(coded(1 << 20), [("flag_key", 1), ("variant", 2)]);
        // Past 32 values in one piece, or over the whole file, text again,
        // and the same frame as Polars reads.
        let mut many = String::from("event_name,targeting_key,timestamp,value\n");
        for i in 0..100 {
            many.push_str(&format!(
                "event-{},u{},2026-03-01T10:00:00Z,{i}\n",
                i % 40,
                i % 7
            ));
        }
        same(Kind::Events, &many);
        let path = file("many.csv", &many);
        for block in [64, 1 << 20] {
            let names: Vec<&str> = read_in_blocks(Kind::Events, &path, block)
                .unwrap()
                .dictionaries
                .iter()
                .map(|(column, _)| *column)
                .collect();
            assert_eq!(names, ["targeting_key"], "{block}");
        }
    }

    #[test]
    fn anything_unusual_is_left_to_polars() {
        let events = "event_name,targeting_key,timestamp,value\n";
        for line in [
            "\"purchase\",u1,2026-03-01T10:00:00Z,1",
            "purchase,u1,2026-03-01T10:00:00Z,1\r",
            "purchase,u1,2026-03-01T10:00:00Z",
            "purchase,u1,2026-03-01T10:00:00Z,1,2",
            "purchase,,2026-03-01T10:00:00Z,1",
            "purchase,u1,yesterday,1",
            "purchase,u1,2026-03-01T10:00:00Z,1e3",
            "purchase,u1,2026-03-01T10:00:00Z,inf",
            "purchase,u1,2026-03-01T10:00:00Z,.5",
        ] {
            not_plain(Kind::Events, &format!("{events}{line}\n"));
        }
        not_plain(
            Kind::Events,
            &format!(
                "{events}purchase,u1,2026-03-01T10:00:00Z,1\n\npurchase,u2,2026-03-01T10:00:00Z,1\n"
            ),
        );
        // A missing or doubled column, or no row at all.
        not_plain(Kind::Events, "event_name,targeting_key,timestamp\n");
        not_plain(
            Kind::Events,
            "event_name,targeting_key,timestamp,value,value\n",
        );
        not_plain(Kind::Events, events);
        // A line longer than what is read at a time.
        let long = format!(
            "{events}purchase,{},2026-03-01T10:00:00Z,1\npurchase,u1,2026-03-01T10:00:00Z,1\n",
            "u".repeat(100_000)
        );
        let path = file("long.csv", &long);
        assert!(read_in_blocks(Kind::Events, &path, 1024).is_none());
        assert!(read_in_blocks(Kind::Events, &path, 1 << 20).is_some());
    }

    #[test]
    fn a_bad_row_is_still_named_by_its_line() {
        let path = file(
            "bad.csv",
            "event_name,targeting_key,timestamp,value\n\
             purchase,u1,2026-03-01T10:00:00Z,1\n\
             purchase,u2,2026-03-01T25:00:00Z,1\n",
        );
        let table = Table::file(Kind::Events, &path).unwrap();
        let error = table
            .frame
            .clone()
            .collect()
            .map_err(|error| crate::input::diagnose(&table, error));
        let message = match error {
            Ok(frame) => {
                // The bad timestamp is null, which the analysis refuses by
                // its line.
                assert_eq!(frame.column("timestamp").unwrap().null_count(), 1);
                crate::input::first_bad_row(&table)
                    .unwrap()
                    .unwrap()
                    .to_string()
            }
            Err(error) => error.to_string(),
        };
        assert!(message.contains("line 3"), "{message}");
        assert!(message.contains("2026-03-01T25:00:00Z"), "{message}");
    }
}
