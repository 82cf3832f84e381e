//! A minimal HTTP/1.x server and client on std::net, for the simulated
//! members (hundreds of tiny listeners that must close on demand) and the
//! NLB's health checks. One request per connection (`Connection: close`).

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// Headers larger than this are refused: members need only a request line.
const MAX_HEAD: usize = 8 * 1024;

/// The request line of one request (headers are read and ignored).
pub struct Request {
    pub method: String,
    pub path: String,
}

/// Read one request head. `Ok(None)` when the peer sent nothing usable.
pub fn read_request(stream: &mut TcpStream) -> io::Result<Option<Request>> {
    let mut head = Vec::with_capacity(256);
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && !head.windows(2).any(|w| w == b"\n\n") {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Ok(None);
        }
        head.extend_from_slice(&buf[..n]);
        if head.len() > MAX_HEAD {
            return Ok(None);
        }
    }
    let text = String::from_utf8_lossy(&head);
    let mut parts = text.lines().next().unwrap_or("").split_whitespace();
    match (parts.next(), parts.next()) {
        (Some(method), Some(target)) => {
            let path = target.split('?').next().unwrap_or(target).to_string();
            Ok(Some(Request { method: method.to_string(), path }))
        }
        _ => Ok(None),
    }
}

pub fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        _ => "Error",
    }
}

pub fn respond(stream: &mut TcpStream, status: u16, content_type: &str, body: &[u8]) -> io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        reason(status),
        body.len()
    );
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    stream.flush()
}

/// A listening socket served by one accept thread and a thread per
/// connection. `close` stops accepting and closes the socket (new
/// connections are refused afterwards).
pub struct Listener {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

pub type Handler = Arc<dyn Fn(TcpStream) + Send + Sync>;

pub fn serve(addr: SocketAddr, name: &str, handler: Handler) -> io::Result<Listener> {
    let listener = TcpListener::bind(addr)?;
    let addr = listener.local_addr()?;
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let thread = std::thread::Builder::new().name(name.to_string()).spawn(move || {
        for conn in listener.incoming() {
            if flag.load(Ordering::SeqCst) {
                break;
            }
            let Ok(stream) = conn else { continue };
            let handler = handler.clone();
            // Small stacks: a member's handlers only format short strings.
            let spawned = std::thread::Builder::new().stack_size(64 * 1024).spawn(move || {
                let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
                handler(stream)
            });
            if spawned.is_err() {
                // Out of threads: dropping the stream resets the connection.
                continue;
            }
        }
    })?;
    Ok(Listener { addr, stop, thread: Some(thread) })
}

impl Listener {
    #[cfg(test)]
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn close(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the blocked accept() so the thread sees the flag and drops the socket.
        if let Ok(s) = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1)) {
            let _ = s.shutdown(Shutdown::Both);
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.close();
    }
}

/// GET `path` from `addr` within `timeout`; returns (status, body).
pub fn get(addr: SocketAddr, host: &str, path: &str, timeout: Duration) -> io::Result<(u16, String)> {
    let mut s = TcpStream::connect_timeout(&addr, timeout)?;
    s.set_read_timeout(Some(timeout))?;
    s.set_write_timeout(Some(timeout))?;
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").as_bytes())?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "no HTTP status line"))?;
    Ok((status, body.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serves_until_closed_then_refuses() {
        let handler: Handler = Arc::new(|mut s: TcpStream| {
            if let Ok(Some(req)) = read_request(&mut s) {
                let _ = respond(&mut s, 200, "text/plain", req.path.as_bytes());
            }
        });
        let mut l = serve("127.0.0.1:0".parse().unwrap(), "test", handler).unwrap();
        let addr = l.addr();
        let (status, body) = get(addr, "x", "/hello?q=1", Duration::from_secs(2)).unwrap();
        assert_eq!((status, body.as_str()), (200, "/hello"));
        l.close();
        assert!(get(addr, "x", "/", Duration::from_secs(2)).is_err());
    }
}
