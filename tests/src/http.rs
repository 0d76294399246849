//! A minimal HTTP/1.1 server and client over loopback, for tests that stand in for the Lambda
//! Runtime API or an origin. One request per connection (`connection: close`), which every client
//! we drive (Node's fetch, workerd) honours.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

/// Lowercase header name -> every value, in order.
pub type HeaderMap = BTreeMap<String, Vec<String>>;

#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub path: String,
    /// Lowercase names; repeated headers keep every value.
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .and_then(|v| v.first())
            .map(String::as_str)
    }

    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn new(status: u16, body: impl Into<Vec<u8>>) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: body.into(),
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A server on 127.0.0.1 with an ephemeral port; each connection is handled on its own thread
/// (the Runtime API's long-poll `next` must not block the `response` post). Lives for the test
/// process: tests own their ports, nothing needs shutting down.
pub struct Server {
    pub addr: SocketAddr,
}

impl Server {
    pub fn start(handler: impl Fn(Request) -> Response + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let addr = listener.local_addr().expect("local addr");
        let handler = Arc::new(handler);
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let handler = Arc::clone(&handler);
                thread::spawn(move || {
                    let _ = serve_one(stream, &*handler);
                });
            }
        });
        Self { addr }
    }
}

fn serve_one(stream: TcpStream, handler: &dyn Fn(Request) -> Response) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let Some(request) = read_request(&mut reader)? else {
        return Ok(());
    };
    let response = handler(request);
    write_message(
        &stream,
        &format!("HTTP/1.1 {} X", response.status),
        &response.headers,
        &response.body,
    )
}

fn read_head(reader: &mut impl BufRead) -> std::io::Result<Option<(String, HeaderMap)>> {
    let mut start = String::new();
    if reader.read_line(&mut start)? == 0 {
        return Ok(None);
    }
    let mut headers = HeaderMap::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line)?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            headers
                .entry(name.trim().to_ascii_lowercase())
                .or_default()
                .push(value.trim().to_owned());
        }
    }
    Ok(Some((start.trim_end().to_owned(), headers)))
}

fn read_body(reader: &mut impl BufRead, headers: &HeaderMap) -> std::io::Result<Vec<u8>> {
    let mut body = Vec::new();
    if headers
        .get("transfer-encoding")
        .is_some_and(|v| v.iter().any(|t| t.eq_ignore_ascii_case("chunked")))
    {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size)?;
            let size = usize::from_str_radix(size.trim().split(';').next().unwrap_or("0"), 16)
                .unwrap_or(0);
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk)?;
            if size == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..size]);
        }
    } else if let Some(len) = headers
        .get("content-length")
        .and_then(|v| v.first())
        .and_then(|v| v.parse().ok())
    {
        body.resize(len, 0);
        reader.read_exact(&mut body)?;
    }
    Ok(body)
}

fn read_request(reader: &mut impl BufRead) -> std::io::Result<Option<Request>> {
    let Some((start, headers)) = read_head(reader)? else {
        return Ok(None);
    };
    let mut parts = start.split(' ');
    let method = parts.next().unwrap_or_default().to_owned();
    let path = parts.next().unwrap_or_default().to_owned();
    let body = read_body(reader, &headers)?;
    Ok(Some(Request {
        method,
        path,
        headers,
        body,
    }))
}

fn write_message(
    mut stream: &TcpStream,
    start: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> std::io::Result<()> {
    let mut head = format!(
        "{start}\r\ncontent-length: {}\r\nconnection: close\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    stream.flush()
}

/// Send one request and read the whole response (the server closes or sends content-length).
pub fn send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<Response> {
    let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut all: Vec<(String, String)> = vec![("host".into(), addr.to_string())];
    all.extend(
        headers
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned())),
    );
    write_message(&stream, &format!("{method} {path} HTTP/1.1"), &all, body)?;
    let mut reader = BufReader::new(stream);
    let (start, headers) = read_head(&mut reader)?
        .ok_or_else(|| std::io::Error::other("connection closed before a response"))?;
    let status = start
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad status line {start:?}")))?;
    let body = read_body(&mut reader, &headers)?;
    let headers = headers
        .into_iter()
        .flat_map(|(n, vs)| vs.into_iter().map(move |v| (n.clone(), v)))
        .collect();
    Ok(Response {
        status,
        headers,
        body,
    })
}
