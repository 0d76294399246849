//! The letter case a client wrote its header names in. CloudFront's event keeps it in each
//! header's `key` (docs/AWS-BEHAVIOUR.md, "The CloudFront request event"), but hyper lowercases
//! names as it parses, and the case map it can keep (`preserve_header_case`) is private to it.
//! So a listener that wants the case records the bytes it reads ([`Recording`]), and the
//! request's handler finds its own head among them ([`Recorder::take`]). Written by hand because
//! no crate exposes a parsed request's original header case for a hyper server.
//!
//! What is found is only a spelling: a name is used only when it equals, ignoring case, a header
//! hyper itself parsed, so a body that imitates a request head can at worst change a `key`'s
//! letter case, never what a request carries.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Bytes kept at most while no request takes them (bodies included); older ones are dropped.
const MAX_RECORDED: usize = 2 * 1024 * 1024;
/// What is kept when that is passed: at least one whole request head (CloudFront's limit is
/// 20,480 bytes; hyper's default head limit is larger).
const KEEP_AFTER_TRIM: usize = 128 * 1024;

/// Lowercase name -> the spelling the client sent first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeaderCase(HashMap<String, String>);

impl HeaderCase {
    /// The client's spelling of `lowercase`, if it sent that header.
    pub fn get(&self, lowercase: &str) -> Option<&str> {
        self.0.get(lowercase).map(String::as_str)
    }
}

/// The bytes one connection has read and no request has taken yet.
#[derive(Debug, Clone, Default)]
pub struct Recorder(Arc<Mutex<Vec<u8>>>);

impl Recorder {
    fn record(&self, bytes: &[u8]) {
        let mut buf = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        buf.extend_from_slice(bytes);
        if buf.len() > MAX_RECORDED {
            let cut = buf.len() - KEEP_AFTER_TRIM;
            buf.drain(..cut);
        }
    }

    /// The case map of the request whose request line is `request_line` (`GET /x HTTP/1.1`
    /// without the line end), from the earliest such head recorded; everything up to the end
    /// of that head is then forgotten. Only names in `parsed` (hyper's, lowercase) are kept.
    pub fn take<'a>(
        &self,
        request_line: &str,
        parsed: impl Iterator<Item = &'a str>,
    ) -> HeaderCase {
        let mut buf = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(start) = find(&buf, request_line.as_bytes()) else {
            return HeaderCase::default();
        };
        let Some(len) = find(&buf[start..], b"\r\n\r\n") else {
            return HeaderCase::default();
        };
        let head = String::from_utf8_lossy(&buf[start..start + len]).into_owned();
        buf.drain(..start + len + 4);
        drop(buf);
        let wanted: Vec<&str> = parsed.collect();
        let mut map = HashMap::new();
        for line in head.split("\r\n").skip(1) {
            let Some((name, _)) = line.split_once(':') else {
                continue;
            };
            let lower = name.to_ascii_lowercase();
            if wanted.contains(&lower.as_str()) {
                map.entry(lower).or_insert_with(|| name.to_owned());
            }
        }
        HeaderCase(map)
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// A connection whose reads are also recorded (when it has a recorder).
pub struct Recording<T> {
    inner: T,
    recorder: Option<Recorder>,
}

impl<T> Recording<T> {
    pub fn new(inner: T, recorder: Option<Recorder>) -> Self {
        Self { inner, recorder }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Recording<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let (Poll::Ready(Ok(())), Some(recorder)) = (&polled, &self.recorder) {
            let fresh = &buf.filled()[before..];
            if !fresh.is_empty() {
                recorder.record(fresh);
            }
        }
        polled
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Recording<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_request_gets_its_own_spelling_and_only_of_parsed_names() {
        let r = Recorder::default();
        r.record(b"GET /a HTTP/1.1\r\nHost: x\r\nX-MiXeD: 1\r\nx-mixed: 2\r\n\r\n");
        r.record(b"POST /b HTTP/1.1\r\nhost: x\r\nContent-Length: 37\r\n\r\n");
        r.record(b"GET /a HTTP/1.1\r\nX-Forged: 1\r\n\r\n");
        let a = r.take("GET /a HTTP/1.1", ["host", "x-mixed"].into_iter());
        assert_eq!(a.get("x-mixed"), Some("X-MiXeD"), "the first spelling");
        assert_eq!(a.get("host"), Some("Host"));
        // The second request's head follows; a body that imitates a head can only give a
        // spelling of a name the request really has.
        let b = r.take("POST /b HTTP/1.1", ["host", "content-length"].into_iter());
        assert_eq!(b.get("host"), Some("host"));
        assert_eq!(b.get("content-length"), Some("Content-Length"));
        assert_eq!(b.get("x-forged"), None);
        assert_eq!(
            r.take("PUT /missing HTTP/1.1", ["host"].into_iter()),
            HeaderCase::default()
        );
    }

    #[test]
    fn recording_stays_bounded() {
        let r = Recorder::default();
        for _ in 0..100 {
            r.record(&[b'x'; 64 * 1024]);
        }
        let len = r.0.lock().unwrap_or_else(PoisonError::into_inner).len();
        assert!(len <= MAX_RECORDED, "{len}");
    }
}
