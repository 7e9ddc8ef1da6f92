//! A connection pool for the one origin the sidecar talks to: a stack of idle HTTP/1.1
//! connections (hyper's low-level `SendRequest` handles, each driven by its own task), most
//! recently used on top. A call takes the top connection that is still open, or connects (within
//! the connect timeout, TCP_NODELAY); the caller hands it back after reading the whole answer.
//! Idle connections expire after `idle_timeout` and at most `max_idle` are kept.
//!
//! Each connection counts the bytes it has read, so that a failed call can tell whether any part
//! of the answer arrived (a keep-alive connection the application closed fails before that).

use bytes::Bytes;
use http_body_util::Full;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::Instant;

pub(super) type Body = Full<Bytes>;

/// Where to connect: a literal address is used as is, a name is resolved on every connect (the
/// application's address may change; connecting is rare).
#[derive(Debug, Clone)]
enum Target {
    Addr(SocketAddr),
    Name(String, u16),
}

/// The pool's settings.
#[derive(Debug, Clone)]
pub(super) struct PoolSettings {
    /// The host as written in the URL (brackets around IPv6 literals allowed) and the port.
    pub host: String,
    pub port: u16,
    pub connect_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_idle: usize,
}

pub(super) struct Pool {
    target: Target,
    connect_timeout: Duration,
    idle_timeout: Duration,
    max_idle: usize,
    idle: Mutex<Vec<Idle>>,
    /// Whether the task that closes expired idle connections has been started.
    reaper: AtomicBool,
}

struct Idle {
    conn: Conn,
    since: Instant,
}

/// One connection, taken from the pool or new.
pub(super) struct Conn {
    tx: SendRequest<Body>,
    /// Bytes read from the socket so far.
    read: Arc<AtomicU64>,
    /// Whether it served an earlier call.
    reused: bool,
}

impl Conn {
    pub(super) fn sender(&mut self) -> &mut SendRequest<Body> {
        &mut self.tx
    }
    pub(super) fn reused(&self) -> bool {
        self.reused
    }
    pub(super) fn bytes_read(&self) -> u64 {
        // The answer (or the failure) reached the caller through hyper's channel, which orders
        // the connection task's counting before this load.
        self.read.load(Ordering::Relaxed)
    }
}

/// Why no connection could be made; the request never left.
#[derive(Debug)]
pub(super) struct ConnectError(pub String);

impl Pool {
    pub(super) fn new(settings: PoolSettings) -> Pool {
        let bare = settings.host.trim_start_matches('[').trim_end_matches(']');
        let target = match bare.parse::<IpAddr>() {
            Ok(ip) => Target::Addr(SocketAddr::new(ip, settings.port)),
            Err(_) => Target::Name(bare.to_string(), settings.port),
        };
        Pool {
            target,
            connect_timeout: settings.connect_timeout,
            idle_timeout: settings.idle_timeout,
            max_idle: settings.max_idle,
            idle: Mutex::new(Vec::new()),
            reaper: AtomicBool::new(false),
        }
    }

    /// An open idle connection, or (when there is none, or `fresh` is asked for) a new one.
    pub(super) async fn checkout(&self, fresh: bool) -> Result<Conn, ConnectError> {
        if !fresh {
            while let Some(Idle { mut conn, since }) = self.pop() {
                if since.elapsed() >= self.idle_timeout || conn.tx.is_closed() {
                    continue;
                }
                // Normally ready at once; a connection that is closing fails here instead.
                if conn.tx.ready().await.is_ok() {
                    conn.reused = true;
                    return Ok(conn);
                }
            }
        }
        self.connect().await
    }

    /// Hands a connection back after its answer was read completely.
    pub(super) fn checkin(self: &Arc<Self>, conn: Conn) {
        if conn.tx.is_closed() {
            return;
        }
        {
            let mut idle = self.lock();
            if idle.len() >= self.max_idle {
                // Dropping the handle closes the connection.
                return;
            }
            idle.push(Idle {
                conn,
                since: Instant::now(),
            });
        }
        if !self.reaper.load(Ordering::Relaxed) && !self.reaper.swap(true, Ordering::Relaxed) {
            self.start_reaper();
        }
    }

    fn pop(&self) -> Option<Idle> {
        self.lock().pop()
    }

    /// Nothing can panic while the lock is held, but a poisoned lock must not stop the client.
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Idle>> {
        self.idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Closes expired and closed idle connections even when no call comes to find them; ends
    /// with the pool.
    fn start_reaper(self: &Arc<Self>) {
        let weak: Weak<Pool> = Arc::downgrade(self);
        let every = self.idle_timeout.max(Duration::from_millis(100));
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            self.reaper.store(false, Ordering::Relaxed);
            return;
        };
        runtime.spawn(async move {
            let mut tick = tokio::time::interval_at(Instant::now() + every, every);
            loop {
                tick.tick().await;
                let Some(pool) = weak.upgrade() else {
                    return;
                };
                pool.expire();
            }
        });
    }

    /// Drops the idle connections that are closed or idle for too long.
    fn expire(&self) {
        let now = Instant::now();
        let expired: Vec<Idle> = {
            let mut idle = self.lock();
            let (keep, gone) = std::mem::take(&mut *idle).into_iter().partition(|i| {
                now.saturating_duration_since(i.since) < self.idle_timeout && !i.conn.tx.is_closed()
            });
            *idle = keep;
            gone
        };
        // Closed outside the lock.
        drop(expired);
    }

    async fn connect(&self) -> Result<Conn, ConnectError> {
        let stream = match tokio::time::timeout(self.connect_timeout, self.tcp()).await {
            Ok(Ok(stream)) => stream,
            Ok(Err(e)) => return Err(ConnectError(e.to_string())),
            // The same text hyper-util's connector gave.
            Err(_) => return Err(ConnectError("deadline has elapsed".into())),
        };
        // Small requests and answers: do not wait to fill a segment.
        stream
            .set_nodelay(true)
            .map_err(|e| ConnectError(e.to_string()))?;
        let read = Arc::new(AtomicU64::new(0));
        let io = TokioIo::new(Counted {
            inner: stream,
            read: read.clone(),
        });
        let (tx, connection) = http1::handshake::<_, Body>(io)
            .await
            .map_err(|e| ConnectError(e.to_string()))?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "application connection closed");
            }
        });
        Ok(Conn {
            tx,
            read,
            reused: false,
        })
    }

    /// TCP connect to each resolved address in turn; the first error is kept.
    async fn tcp(&self) -> io::Result<TcpStream> {
        match &self.target {
            Target::Addr(addr) => TcpStream::connect(*addr).await,
            Target::Name(host, port) => {
                let mut first_error = None;
                for addr in tokio::net::lookup_host((host.as_str(), *port)).await? {
                    match TcpStream::connect(addr).await {
                        Ok(stream) => return Ok(stream),
                        Err(e) => {
                            first_error.get_or_insert(e);
                        }
                    }
                }
                Err(first_error.unwrap_or_else(|| {
                    io::Error::new(io::ErrorKind::NotFound, "the host has no address")
                }))
            }
        }
    }

    #[cfg(test)]
    pub(super) fn idle_count(&self) -> usize {
        self.lock().len()
    }

    /// Makes every idle connection look `by` older.
    #[cfg(test)]
    pub(super) fn age_idle(&self, by: Duration) {
        for i in self.lock().iter_mut() {
            i.since = i.since.checked_sub(by).unwrap_or(i.since);
        }
    }

    #[cfg(test)]
    pub(super) fn expire_now(&self) {
        self.expire();
    }

    /// Returns once every idle connection has been seen closed by its connection task.
    #[cfg(test)]
    pub(super) async fn until_idle_closed(&self) {
        while self.lock().iter().any(|i| !i.conn.tx.is_closed()) {
            tokio::task::yield_now().await;
        }
    }

    #[cfg(test)]
    pub(super) fn with_max_idle(&self, max_idle: usize) -> Pool {
        Pool {
            target: self.target.clone(),
            connect_timeout: self.connect_timeout,
            idle_timeout: self.idle_timeout,
            max_idle,
            idle: Mutex::new(Vec::new()),
            reaper: AtomicBool::new(false),
        }
    }
}

/// A TCP stream that counts the bytes read.
struct Counted {
    inner: TcpStream,
    read: Arc<AtomicU64>,
}

impl AsyncRead for Counted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        let n = buf.filled().len().saturating_sub(before);
        if n > 0 {
            self.read.fetch_add(n as u64, Ordering::Relaxed);
        }
        polled
    }
}

impl AsyncWrite for Counted {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
