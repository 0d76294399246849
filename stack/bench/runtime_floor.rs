//! The cold-start floor of `edge-stack-bench`: the least a Lambda custom runtime can do to answer
//! an ALB event, built by the bench with `rustc` alone (std only, statically linked, no async
//! runtime, blocking I/O on one keep-alive connection). It makes the same Runtime API exchange as
//! alb-fn (`GET next`, one JSON log line on stdout, `POST .../response` with an ALB response) and
//! nothing else: no event parsing beyond the request id, no tracing, no threads. Not shipped.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;

/// Read one HTTP/1.1 response: its request-id header (if any) and its body.
fn read_response(conn: &mut BufReader<TcpStream>) -> std::io::Result<(String, Vec<u8>)> {
    let mut line = String::new();
    let (mut length, mut request_id) = (0usize, String::new());
    loop {
        line.clear();
        if conn.read_line(&mut line)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            let value = value.trim();
            if name.eq_ignore_ascii_case("content-length") {
                length = value.parse().unwrap_or(0);
            } else if name.eq_ignore_ascii_case("lambda-runtime-aws-request-id") {
                request_id = value.to_owned();
            }
        }
    }
    let mut body = vec![0; length];
    conn.read_exact(&mut body)?;
    Ok((request_id, body))
}

fn main() -> std::io::Result<()> {
    let api = std::env::var("AWS_LAMBDA_RUNTIME_API").map_err(std::io::Error::other)?;
    let stream = TcpStream::connect(&api)?;
    stream.set_nodelay(true)?;
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    let answer = br#"{"statusCode":200,"statusDescription":"200 OK","headers":{"content-type":"text/plain"},"body":"Hello from Lambda!","isBase64Encoded":false}"#;
    loop {
        write!(
            writer,
            "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nhost: {api}\r\n\r\n"
        )?;
        let (id, event) = read_response(&mut reader)?;
        println!(
            r#"{{"level":"INFO","requestId":"{id}","eventBytes":{}}}"#,
            event.len()
        );
        write!(
            writer,
            "POST /2018-06-01/runtime/invocation/{id}/response HTTP/1.1\r\nhost: {api}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
            answer.len()
        )?;
        writer.write_all(answer)?;
        read_response(&mut reader)?;
    }
}
