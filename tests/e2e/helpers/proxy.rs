//! A TCP proxy the test controls, put between Longshore's processes and RabbitMQ or
//! PostgreSQL, so a test can take the broker or the store away from them (and give it
//! back) without touching the servers every test shares.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::io::copy_bidirectional;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub struct Proxy {
    addr: SocketAddr,
    state: Arc<State>,
    accept: JoinHandle<()>,
}

struct State {
    upstream: String,
    open: AtomicBool,
    /// Bumped on every cut; live connections end when they see it change.
    cuts: watch::Sender<u64>,
}

impl Proxy {
    /// Starts forwarding 127.0.0.1:<some port> to `upstream` (`host:port`).
    pub async fn start(upstream: &str) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the proxy");
        let addr = listener.local_addr().expect("proxy address");
        let state = Arc::new(State {
            upstream: upstream.to_owned(),
            open: AtomicBool::new(true),
            cuts: watch::channel(0).0,
        });
        let accept = tokio::spawn(accept_loop(listener, state.clone()));
        Proxy {
            addr,
            state,
            accept,
        }
    }

    /// `host:port` to connect to instead of the upstream.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The RabbitMQ URL that goes through the proxy.
    pub fn amqp_url(&self) -> String {
        format!("amqp://guest:guest@{}/%2f", self.addr)
    }

    /// Closes every live connection and refuses new ones until [`Proxy::restore`].
    pub fn cut(&self) {
        self.state.open.store(false, Ordering::SeqCst);
        self.state.cuts.send_modify(|n| *n += 1);
    }

    /// Forwards new connections again.
    pub fn restore(&self) {
        self.state.open.store(true, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.state.cuts.send_modify(|n| *n += 1);
    }
}

async fn accept_loop(listener: TcpListener, state: Arc<State>) {
    loop {
        let Ok((client, _)) = listener.accept().await else {
            continue;
        };
        if !state.open.load(Ordering::SeqCst) {
            // Refused: the peer sees the connection close at once.
            drop(client);
            continue;
        }
        let state = state.clone();
        tokio::spawn(async move {
            let mut cuts = state.cuts.subscribe();
            cuts.mark_unchanged();
            let Ok(upstream) = TcpStream::connect(&state.upstream).await else {
                return;
            };
            let (mut client, mut upstream) = (client, upstream);
            tokio::select! {
                _ = copy_bidirectional(&mut client, &mut upstream) => {}
                _ = cuts.changed() => {}
            }
            // Both sockets are dropped here: each side sees its connection close.
        });
    }
}
