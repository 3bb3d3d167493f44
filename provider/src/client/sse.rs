//! A Server-Sent Events parser for the OFREP change stream: bytes in,
//! dispatched events out, as the HTML living standard's event-stream
//! interpretation describes (the parts OFREP uses: `data`, `id`, `event`,
//! comments).

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SseEvent {
    /// The last event id seen so far on the stream, if any.
    pub(crate) id: Option<String>,
    /// The `data` lines, joined with newlines.
    pub(crate) data: String,
}

/// Incremental parser state: chunks may split lines (and UTF-8) anywhere.
#[derive(Debug, Default)]
pub(crate) struct SseParser {
    line: Vec<u8>,
    data: Option<String>,
    id: Option<String>,
    /// Whether the next byte starts a line that may carry a stray `\n` of a
    /// `\r\n` pair split between chunks.
    after_cr: bool,
}

impl SseParser {
    /// Feeds a chunk; returns the events it completes.
    pub(crate) fn push(&mut self, chunk: &[u8]) -> Vec<SseEvent> {
        let mut events = Vec::new();
        for &byte in chunk {
            if self.after_cr {
                self.after_cr = false;
                if byte == b'\n' {
                    continue;
                }
            }
            match byte {
                b'\n' | b'\r' => {
                    self.after_cr = byte == b'\r';
                    let line = std::mem::take(&mut self.line);
                    if let Some(event) = self.line_done(&String::from_utf8_lossy(&line)) {
                        events.push(event);
                    }
                }
                _ => self.line.push(byte),
            }
        }
        events
    }

    fn line_done(&mut self, line: &str) -> Option<SseEvent> {
        if line.is_empty() {
            let data = self.data.take()?;
            return Some(SseEvent {
                id: self.id.clone(),
                data,
            });
        }
        if line.starts_with(':') {
            return None;
        }
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line, ""),
        };
        match field {
            "data" => match &mut self.data {
                Some(data) => {
                    data.push('\n');
                    data.push_str(value);
                }
                None => self.data = Some(value.to_owned()),
            },
            // An id with a NUL is ignored, as the standard says.
            "id" if !value.contains('\0') => self.id = Some(value.to_owned()),
            _ => {}
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(chunks: &[&str], expect: &[(Option<&str>, &str)]) {
        let mut parser = SseParser::default();
        let events: Vec<SseEvent> = chunks
            .iter()
            .flat_map(|chunk| parser.push(chunk.as_bytes()))
            .collect();
        let expect: Vec<SseEvent> = expect
            .iter()
            .map(|(id, data)| SseEvent {
                id: id.map(str::to_owned),
                data: (*data).to_owned(),
            })
            .collect();
        assert_eq!(events, expect);
    }

    #[test]
    fn parses_events() {
        check(&["data: {}\n\n"], &[(None, "{}")]);
        check(&["id: 7\nevent: message\ndata: a\n\n"], &[(Some("7"), "a")]);
        check(
            &["id: 7\ndata: a\n\ndata: b\n\n"],
            &[(Some("7"), "a"), (Some("7"), "b")],
        );
        check(&["data: a\ndata: b\n\n"], &[(None, "a\nb")]);
        check(&[": keep-alive\n\n"], &[]);
        check(&["retry: 2000\n\n"], &[]);
        check(&["data:x\r\n\r\n"], &[(None, "x")]);
        check(&["data: x\r", "\n\r", "\n"], &[(None, "x")]);
        check(&["da", "ta: {\"t\":", "1}\n", "\n"], &[(None, "{\"t\":1}")]);
    }

    #[test]
    fn utf8_may_be_split_between_chunks() {
        let bytes = "data: é\n\n".as_bytes();
        let mut parser = SseParser::default();
        assert!(parser.push(&bytes[..7]).is_empty());
        let events = parser.push(&bytes[7..]);
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].data, "é");
    }
}
