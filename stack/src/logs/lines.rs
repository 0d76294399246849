//! Reading a function's output as log lines, whatever it writes, and writing lines nobody can
//! forge with control characters.

use std::borrow::Cow;

/// Longest log line: CloudWatch Logs takes events of at most 256 KB (docs/AWS-BEHAVIOUR.md). A
/// longer line is cut into pieces of this size, so nothing is lost and memory stays bounded.
pub const MAX_LINE_BYTES: usize = 256 * 1024;

/// Lines of a pipe, fed with whatever each read returned: split at `\n` or every
/// [`MAX_LINE_BYTES`], invalid UTF-8 replaced by U+FFFD. (`tokio::io::Lines` stops at the first
/// invalid byte and buffers a line without limit.) Synchronous, so that the caller that writes a
/// platform line can first take everything the pipes hold, with no other task in between.
#[derive(Debug, Default)]
pub struct Splitter {
    /// The line read so far (no `\n` yet).
    line: Vec<u8>,
}

impl Splitter {
    /// Every line `bytes` completes, in order; the rest waits for the next call.
    pub fn feed(&mut self, mut bytes: &[u8], mut emit: impl FnMut(String)) {
        while !bytes.is_empty() {
            let room = MAX_LINE_BYTES - self.line.len();
            let window = &bytes[..bytes.len().min(room)];
            if let Some(end) = window.iter().position(|&b| b == b'\n') {
                self.line.extend_from_slice(&window[..end]);
                bytes = &bytes[end + 1..];
                emit(self.take());
                continue;
            }
            self.line.extend_from_slice(window);
            bytes = &bytes[window.len()..];
            if self.line.len() == MAX_LINE_BYTES {
                emit(self.take());
            }
        }
    }

    /// The pipe closed: what is left, as a last line.
    pub fn finish(&mut self) -> Option<String> {
        (!self.line.is_empty()).then(|| self.take())
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

    /// `input` fed in pieces of `piece` bytes, then closed.
    fn all_lines(input: &[u8], piece: usize) -> Vec<String> {
        let mut splitter = Splitter::default();
        let mut out = Vec::new();
        for chunk in input.chunks(piece) {
            splitter.feed(chunk, |l| out.push(l));
        }
        out.extend(splitter.finish());
        out
    }

    #[test]
    fn invalid_utf8_is_kept_lossily_and_reading_goes_on() {
        for piece in [1, 2, 5, 64] {
            let lines = all_lines(b"a\xffb\nnext\nlast", piece);
            assert_eq!(lines, ["a\u{fffd}b", "next", "last"], "pieces of {piece}");
        }
    }

    #[test]
    fn long_lines_are_cut_into_pieces_of_the_limit() {
        let mut input = vec![b'x'; MAX_LINE_BYTES * 2 + 10];
        input.extend_from_slice(b"\nafter\n");
        for piece in [7_000, 64 * 1024, input.len()] {
            let lines = all_lines(&input, piece);
            let lens: Vec<usize> = lines.iter().map(String::len).collect();
            assert_eq!(lens, [MAX_LINE_BYTES, MAX_LINE_BYTES, 10, 5]);
            assert_eq!(lines[3], "after");
        }
    }

    #[test]
    fn an_empty_line_is_a_line_and_nothing_is_left_after_a_newline() {
        assert_eq!(all_lines(b"\n\nx\n", 3), ["", "", "x"]);
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
