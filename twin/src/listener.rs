//! The members' listening sockets: one accept thread and a small thread per
//! connection, and `close` to stop accepting at once (a dead or destroyed VM
//! refuses new connections). Requests are read and answered with the
//! autoscaler's HTTP subset (`autoscaler::http`); only this closing-on-demand
//! is the twin's own.

use autoscaler::http::{self, Conn};
use std::io;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// How long one request may take to arrive.
const READ_TIMEOUT: Duration = Duration::from_secs(10);

pub struct Listener {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

pub type Handler = Arc<dyn Fn(Conn) + Send + Sync>;

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
            let spawned = std::thread::Builder::new().stack_size(64 * 1024).spawn(move || handler(http::connection(stream, READ_TIMEOUT)));
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

#[cfg(test)]
mod tests {
    use super::*;
    use autoscaler::http::Response;

    fn get(addr: SocketAddr, path: &str) -> Option<String> {
        ureq::get(&format!("http://{addr}{path}")).timeout(Duration::from_secs(2)).call().ok()?.into_string().ok()
    }

    #[test]
    fn serves_until_closed_then_refuses() {
        let handler: Handler = Arc::new(|mut conn: Conn| {
            if let Ok(head) = http::read_head(&mut conn) {
                let _ = http::respond(conn, &Response::new(200, "text/plain", head.path), false);
            }
        });
        let mut l = serve("127.0.0.1:0".parse().unwrap(), "test", handler).unwrap();
        let addr = l.addr();
        assert_eq!(get(addr, "/hello?q=1").as_deref(), Some("/hello"));
        l.close();
        assert_eq!(get(addr, "/"), None);
    }
}
