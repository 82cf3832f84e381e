//! The small HTTP/1.1 subset the listener needs: one request per connection,
//! a request head of at most 16 KiB, a body by Content-Length or chunked, a
//! whole-request deadline, and `Connection: close` responses.
//!
//! Why not tiny_http (0.12): it offers no read timeout per connection, so a
//! stalled body would pin a handler forever, and a request dropped with its
//! body unread makes it allocate `Content-Length` bytes in one piece
//! (`util/equal_reader.rs`), which aborts the process on a huge value.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

pub const MAX_HEAD_BYTES: usize = 16 * 1024;

/// A request head; the body is read separately, only when a route wants it.
#[derive(Debug)]
pub struct Head {
    pub method: String,
    /// Path without the query string.
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: BodyKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    None,
    Length(u64),
    Chunked,
}

impl Head {
    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// Why a request could not be read; each maps to one response status.
#[derive(Debug)]
pub enum ReadError {
    /// The peer closed before sending a whole request: nothing to answer.
    Closed,
    /// The deadline passed (408).
    Timeout,
    /// Body over the limit (413), or request head over 16 KiB (431).
    TooLarge,
    /// Not HTTP/1.x as we accept it (400).
    Bad(&'static str),
}

impl ReadError {
    fn from_io(e: io::Error) -> ReadError {
        match e.kind() {
            io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => ReadError::Timeout,
            _ => ReadError::Closed,
        }
    }
}

/// A TCP stream whose reads share one deadline, so a client that trickles
/// a byte at a time cannot keep a handler busy past it.
pub struct DeadlineStream {
    stream: TcpStream,
    deadline: Instant,
}

impl Read for DeadlineStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::Error::new(io::ErrorKind::TimedOut, "request deadline passed"));
        }
        self.stream.set_read_timeout(Some(left))?;
        self.stream.read(buf)
    }
}

pub type Conn = BufReader<DeadlineStream>;

pub fn connection(stream: TcpStream, timeout: Duration) -> Conn {
    BufReader::new(DeadlineStream { stream, deadline: Instant::now() + timeout })
}

pub fn stream(conn: &Conn) -> &TcpStream {
    &conn.get_ref().stream
}

/// One line ending in LF, at most `budget` bytes (which it consumes).
fn read_line(conn: &mut Conn, budget: &mut usize) -> Result<String, ReadError> {
    let mut line = Vec::new();
    let n = conn.by_ref().take(*budget as u64 + 1).read_until(b'\n', &mut line).map_err(ReadError::from_io)?;
    if n == 0 {
        return Err(ReadError::Closed);
    }
    if n > *budget {
        return Err(ReadError::TooLarge);
    }
    *budget -= n;
    if line.last() != Some(&b'\n') {
        return Err(ReadError::Closed);
    }
    let text = String::from_utf8(line).map_err(|_| ReadError::Bad("request head is not UTF-8"))?;
    Ok(text.trim_end_matches(['\r', '\n']).to_string())
}

pub fn read_head(conn: &mut Conn) -> Result<Head, ReadError> {
    let mut budget = MAX_HEAD_BYTES;
    let request_line = read_line(conn, &mut budget)?;
    let mut parts = request_line.split(' ');
    let (Some(method), Some(target), Some(version), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(ReadError::Bad("malformed request line"));
    };
    if !version.starts_with("HTTP/1.") || method.is_empty() || !method.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(ReadError::Bad("not an HTTP/1.x request"));
    }
    let mut headers = Vec::new();
    loop {
        let line = read_line(conn, &mut budget)?;
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':').ok_or(ReadError::Bad("malformed header line"))?;
        headers.push((name.trim().to_string(), value.trim().to_string()));
    }
    let mut head =
        Head { method: method.to_string(), path: target.split('?').next().unwrap_or("").to_string(), headers, body: BodyKind::None };
    head.body = if head.header("Transfer-Encoding").is_some_and(|te| te.to_ascii_lowercase().contains("chunked")) {
        BodyKind::Chunked
    } else if let Some(len) = head.header("Content-Length") {
        BodyKind::Length(len.parse().map_err(|_| ReadError::Bad("Content-Length is not a number"))?)
    } else {
        BodyKind::None
    };
    Ok(head)
}

/// The whole body, refusing more than `limit` bytes without reading past it.
pub fn read_body(conn: &mut Conn, head: &Head, limit: usize) -> Result<Vec<u8>, ReadError> {
    if matches!(head.body, BodyKind::Length(n) if n > limit as u64) {
        return Err(ReadError::TooLarge);
    }
    // Invite the body only once we know we will take it.
    if head.header("Expect").is_some_and(|e| e.eq_ignore_ascii_case("100-continue")) {
        let s = conn.get_mut();
        s.stream.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").map_err(ReadError::from_io)?;
    }
    match head.body {
        BodyKind::None => Ok(Vec::new()),
        BodyKind::Length(n) => {
            let mut body = vec![0; n as usize];
            conn.read_exact(&mut body).map_err(ReadError::from_io)?;
            Ok(body)
        }
        BodyKind::Chunked => read_chunked(conn, limit),
    }
}

fn read_chunked(conn: &mut Conn, limit: usize) -> Result<Vec<u8>, ReadError> {
    let mut body = Vec::new();
    let mut budget = MAX_HEAD_BYTES;
    loop {
        let line = read_line(conn, &mut budget)?;
        let size = line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size, 16).map_err(|_| ReadError::Bad("malformed chunk size"))?;
        if size == 0 {
            // Trailers, until the empty line.
            while !read_line(conn, &mut budget)?.is_empty() {}
            return Ok(body);
        }
        if body.len().saturating_add(size) > limit {
            return Err(ReadError::TooLarge);
        }
        let start = body.len();
        body.resize(start + size, 0);
        conn.read_exact(&mut body[start..]).map_err(ReadError::from_io)?;
        if !read_line(conn, &mut budget)?.is_empty() {
            return Err(ReadError::Bad("chunk is longer than its size"));
        }
    }
}

pub struct Response {
    pub status: u16,
    pub content_type: &'static str,
    pub extra: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn new(status: u16, content_type: &'static str, body: impl Into<Vec<u8>>) -> Response {
        Response { status, content_type, extra: Vec::new(), body: body.into() }
    }

    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Response {
        self.extra.push((name, value.into()));
        self
    }
}

fn reason_phrase(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        413 => "Content Too Large",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

/// Write `response` and close. When the request body was left unread, the
/// write side is shut first and the rest drained briefly, so the kernel does
/// not reset the connection before the client has read our answer.
pub fn respond(mut conn: Conn, response: &Response, body_unread: bool) -> io::Result<()> {
    let mut out = format!(
        "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n",
        response.status,
        reason_phrase(response.status),
        response.content_type,
        response.body.len()
    );
    for (name, value) in &response.extra {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str("\r\n");
    let inner = conn.get_mut();
    inner.stream.set_write_timeout(Some(Duration::from_secs(5)))?;
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(&response.body);
    inner.stream.write_all(&bytes)?;
    if body_unread {
        inner.stream.shutdown(std::net::Shutdown::Write)?;
        inner.deadline = inner.deadline.min(Instant::now() + Duration::from_millis(500));
        let _ = io::copy(&mut conn.by_ref().take(4 * 1024 * 1024), &mut io::sink());
    }
    Ok(())
}
