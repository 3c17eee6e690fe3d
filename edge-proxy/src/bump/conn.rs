//! The sandbox's side of a bumped tunnel as pingora sees it: the decrypted TLS stream (over the
//! client's [`ClientConn`], which still holds writes until a flush), plus bytes the edge already
//! read while checking a request head, replayed before anything new is read.

use crate::client_conn::ClientConn;
use async_trait::async_trait;
use bytes::{Buf, Bytes};
use pingora_core::protocols::raw_connect::ProxyDigest;
use pingora_core::protocols::{
    GetProxyDigest, GetSocketDigest, GetTimingDigest, Peek, Shutdown, SocketDigest, Ssl,
    TimingDigest, UniqueID, UniqueIDType,
};
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_rustls::server::TlsStream;

/// A terminated TLS connection from a sandbox.
pub(crate) struct BumpedConn {
    tls: TlsStream<ClientConn>,
    replay: Bytes,
}

impl std::fmt::Debug for BumpedConn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BumpedConn")
            .field("replay", &self.replay.len())
            .finish_non_exhaustive()
    }
}

impl BumpedConn {
    /// Wraps a completed server-side handshake.
    pub(crate) fn new(tls: TlsStream<ClientConn>) -> BumpedConn {
        BumpedConn {
            tls,
            replay: Bytes::new(),
        }
    }

    /// Puts bytes already read back in front of the stream, to be read again (by pingora).
    pub(crate) fn rewind(&mut self, data: &[u8]) {
        let mut joined = Vec::with_capacity(data.len() + self.replay.len());
        joined.extend_from_slice(data);
        joined.extend_from_slice(&self.replay);
        self.replay = Bytes::from(joined);
    }
}

impl AsyncRead for BumpedConn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if !self.replay.is_empty() {
            let n = self.replay.len().min(buf.remaining());
            if let Some(chunk) = self.replay.get(..n) {
                buf.put_slice(chunk);
            }
            self.replay.advance(n);
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.tls).poll_read(cx, buf)
    }
}

impl AsyncWrite for BumpedConn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.tls).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tls).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tls).poll_shutdown(cx)
    }
}

#[async_trait]
impl Shutdown for BumpedConn {
    async fn shutdown(&mut self) {
        let _ = tokio::io::AsyncWriteExt::shutdown(self).await;
    }
}

impl UniqueID for BumpedConn {
    fn id(&self) -> UniqueIDType {
        self.tls.get_ref().0.id()
    }
}

impl Ssl for BumpedConn {}

impl GetTimingDigest for BumpedConn {
    fn get_timing_digest(&self) -> Vec<Option<TimingDigest>> {
        self.tls.get_ref().0.get_timing_digest()
    }
    fn get_read_pending_time(&self) -> Duration {
        self.tls.get_ref().0.get_read_pending_time()
    }
    fn get_write_pending_time(&self) -> Duration {
        self.tls.get_ref().0.get_write_pending_time()
    }
}

impl GetProxyDigest for BumpedConn {
    fn get_proxy_digest(&self) -> Option<Arc<ProxyDigest>> {
        self.tls.get_ref().0.get_proxy_digest()
    }
}

impl GetSocketDigest for BumpedConn {
    fn get_socket_digest(&self) -> Option<Arc<SocketDigest>> {
        self.tls.get_ref().0.get_socket_digest()
    }
}

#[async_trait]
impl Peek for BumpedConn {}
