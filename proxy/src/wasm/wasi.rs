//! WASI preview 1 for guests, as the Rust and TinyGo guest libraries need
//! it: args, clocks, random, and `fd_write` on stdout/stderr going to
//! tollgate's log. No environment, no stdin, no network, and no file system
//! unless the plugin's config grants a directory (read-only).

use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p1::WasiP1Ctx;
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};
use wasmtime_wasi::{FsPerms, WasiCtxBuilder};

/// A host directory a plugin may read, and where the guest sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preopen {
    pub host: PathBuf,
    pub guest: String,
}

pub(crate) fn context(plugin: &Arc<str>, preopens: &[Preopen]) -> Result<WasiP1Ctx, String> {
    let mut builder = WasiCtxBuilder::new();
    builder
        .arg(plugin.as_ref())
        .stdout(LogStream::new(plugin, Stream::Stdout))
        .stderr(LogStream::new(plugin, Stream::Stderr));
    for p in preopens {
        builder
            .preopened_dir(&p.host, &p.guest, FsPerms::ReadOnly)
            .map_err(|e| format!("dirs: cannot open {}: {e}", p.host.display()))?;
    }
    Ok(builder.build_p1())
}

#[derive(Clone, Copy, Debug)]
enum Stream {
    Stdout,
    Stderr,
}

/// stdout/stderr of a guest: each line becomes a log event tagged with the
/// plugin's name (stdout at info, stderr at warn).
#[derive(Clone)]
struct LogStream {
    plugin: Arc<str>,
    stream: Stream,
}

impl LogStream {
    fn new(plugin: &Arc<str>, stream: Stream) -> Self {
        LogStream {
            plugin: plugin.clone(),
            stream,
        }
    }
}

impl IsTerminal for LogStream {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for LogStream {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(LineWriter {
            target: self.clone(),
            line: Vec::new(),
        })
    }

    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(AsyncLineWriter(LineWriter {
            target: self.clone(),
            line: Vec::new(),
        }))
    }
}

/// Longest line logged; the rest of a longer one is dropped.
const MAX_LINE: usize = 4096;

struct LineWriter {
    target: LogStream,
    line: Vec<u8>,
}

impl LineWriter {
    fn push(&mut self, bytes: &[u8]) {
        for chunk in bytes.split_inclusive(|&b| b == b'\n') {
            let room = MAX_LINE.saturating_sub(self.line.len());
            let (text, newline) = match chunk.strip_suffix(b"\n") {
                Some(t) => (t, true),
                None => (chunk, false),
            };
            self.line.extend_from_slice(&text[..text.len().min(room)]);
            if newline {
                self.emit();
            }
        }
    }

    fn emit(&mut self) {
        if self.line.is_empty() {
            return;
        }
        let text = String::from_utf8_lossy(&self.line);
        let plugin = &*self.target.plugin;
        match self.target.stream {
            Stream::Stdout => tracing::info!(target: "tollgate::plugin", plugin, "{text}"),
            Stream::Stderr => tracing::warn!(target: "tollgate::plugin", plugin, "{text}"),
        }
        self.line.clear();
    }
}

impl Drop for LineWriter {
    fn drop(&mut self) {
        self.emit();
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for LineWriter {
    async fn ready(&mut self) {}
}

impl OutputStream for LineWriter {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.push(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(64 * 1024)
    }
}

struct AsyncLineWriter(LineWriter);

impl tokio::io::AsyncWrite for AsyncLineWriter {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        self.get_mut().0.push(buf);
        std::task::Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}
