//! Reading a function's output as log lines, whatever it writes, and writing lines nobody can
//! forge with control characters.

use std::borrow::Cow;

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};

/// Longest log line: CloudWatch Logs takes events of at most 256 KB (docs/AWS-BEHAVIOUR.md). A
/// longer line is cut into pieces of this size, so nothing is lost and memory stays bounded.
pub const MAX_LINE_BYTES: usize = 256 * 1024;

/// Lines of a pipe: split at `\n` or every [`MAX_LINE_BYTES`], invalid UTF-8 replaced by U+FFFD.
/// `tokio::io::Lines` stops at the first invalid byte and buffers a line without limit.
pub struct LineReader<R> {
    inner: BufReader<R>,
    /// The line read so far. Only whole chunks move from `inner` to here, between awaits, so
    /// `next_line` is cancel-safe (it runs inside `select!`).
    line: Vec<u8>,
}

impl<R: AsyncRead + Unpin> LineReader<R> {
    pub fn new(inner: R) -> Self {
        Self {
            inner: BufReader::new(inner),
            line: Vec::new(),
        }
    }

    /// The next line, or `None` once the pipe is closed (or fails) and nothing is left.
    pub async fn next_line(&mut self) -> Option<String> {
        loop {
            let available = match self.inner.fill_buf().await {
                Ok(bytes) => bytes,
                Err(_) => &[],
            };
            if available.is_empty() {
                if self.line.is_empty() {
                    return None;
                }
                return Some(self.take());
            }
            let room = MAX_LINE_BYTES - self.line.len();
            let window = &available[..available.len().min(room)];
            if let Some(end) = window.iter().position(|&b| b == b'\n') {
                self.line.extend_from_slice(&window[..end]);
                self.inner.consume(end + 1);
                return Some(self.take());
            }
            let taken = window.len();
            self.line.extend_from_slice(window);
            self.inner.consume(taken);
            if self.line.len() == MAX_LINE_BYTES {
                return Some(self.take());
            }
        }
    }

    fn take(&mut self) -> String {
        let bytes = std::mem::take(&mut self.line);
        match String::from_utf8(bytes) {
            Ok(text) => text,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        }
    }
}

/// `text` with every control character but tab escaped (`\n` as `\n`, ESC as `\u{1b}`, C1
/// controls too): one log or access-log line stays one line, and a terminal showing it obeys no
/// escape sequence a function or a client put in it.
pub fn sanitize(text: &str) -> Cow<'_, str> {
    // Every control character is a byte below 0x20, DEL, or (C1, U+0080 to U+009F) a two-byte
    // sequence starting 0xC2: text without those bytes, every log line the functions write in
    // practice, is looked at bytewise and kept as it is.
    let suspect = |b: &u8| (*b < 0x20 && *b != b'\t') || *b == 0x7f || *b == 0xc2;
    if !text.as_bytes().iter().any(suspect) || !text.chars().any(|c| c.is_control() && c != '\t') {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c.is_control() && c != '\t' {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn all_lines(input: &[u8]) -> Vec<String> {
        let mut reader = LineReader::new(input);
        let mut out = Vec::new();
        while let Some(line) = reader.next_line().await {
            out.push(line);
        }
        out
    }

    #[tokio::test]
    async fn invalid_utf8_is_kept_lossily_and_reading_goes_on() {
        let lines = all_lines(b"a\xffb\nnext\nlast").await;
        assert_eq!(lines, ["a\u{fffd}b", "next", "last"]);
    }

    #[tokio::test]
    async fn long_lines_are_cut_into_pieces_of_the_limit() {
        let mut input = vec![b'x'; MAX_LINE_BYTES * 2 + 10];
        input.extend_from_slice(b"\nafter\n");
        let lines = all_lines(&input).await;
        let lens: Vec<usize> = lines.iter().map(String::len).collect();
        assert_eq!(lens, [MAX_LINE_BYTES, MAX_LINE_BYTES, 10, 5]);
        assert_eq!(lines[3], "after");
    }

    #[test]
    fn control_characters_are_escaped() {
        assert!(matches!(sanitize("plain\ttext é"), Cow::Borrowed(_)));
        // U+00A3 starts with the byte C1 controls start with, and is no control.
        assert!(matches!(sanitize("£ \u{a0}"), Cow::Borrowed(_)));
        assert_eq!(sanitize("a\u{85}b\u{7f}"), "a\\u{85}b\\u{7f}");
        assert_eq!(
            sanitize("a\nEND RequestId: x\u{1b}[2J\u{9b}"),
            "a\\nEND RequestId: x\\u{1b}[2J\\u{9b}"
        );
    }
}
