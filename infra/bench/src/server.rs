//! Loopback HTTP servers of the benchmarks (the receiver, the SQS stand-in)
//! run on a thread and runtime of their own, so that they answer at the
//! same speed whatever the benchmark's own runtime is busy with.

use std::net::SocketAddr;

use axum::Router;
use tokio::sync::oneshot;

use crate::BenchResult;

/// A server on `127.0.0.1` and a free port; stops when dropped.
pub struct Background {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
}

impl Background {
    /// Serves `app` on its own thread.
    pub fn start(app: Router, thread_name: &str) -> BenchResult<Self> {
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        std_listener.set_nonblocking(true)?;
        let addr = std_listener.local_addr()?;
        let (stop, stopped) = oneshot::channel::<()>();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        // Not joined on drop: open keep-alive connections would hold a
        // graceful shutdown; the thread ends with the process at the latest.
        std::thread::Builder::new()
            .name(thread_name.into())
            .spawn(move || {
                runtime.block_on(async move {
                    let Ok(listener) = tokio::net::TcpListener::from_std(std_listener) else {
                        return;
                    };
                    let _ = axum::serve(listener, app)
                        .with_graceful_shutdown(async {
                            let _ = stopped.await;
                        })
                        .await;
                });
            })?;
        Ok(Self {
            addr,
            stop: Some(stop),
        })
    }

    /// The address listened on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
