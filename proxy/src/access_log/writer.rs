//! The access log's thread: takes entries off the queue, formats them,
//! writes them to the file (or standard output), flushes whenever the
//! queue is empty, and reopens the file when told (SIGUSR1, logrotate).

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::Arc;

use super::entry::Entry;
use super::{format, QUEUE};
use crate::config::model::{AccessLog, LogFormat};
use crate::logging::open_log_file;

pub enum Message {
    Entry(Box<Entry>),
    Reopen,
}

enum Output {
    File(BufWriter<File>),
    Stdout(io::Stdout),
}

impl Output {
    fn open(config: &AccessLog) -> Result<Output, String> {
        match &config.file_path {
            None => Ok(Output::Stdout(io::stdout())),
            Some(path) => open_log_file(path)
                .map(|f| Output::File(BufWriter::new(f)))
                .map_err(|e| format!("access log {}: {e}", path.display())),
        }
    }

    fn writer(&mut self) -> &mut dyn Write {
        match self {
            Output::File(f) => f,
            Output::Stdout(s) => s,
        }
    }
}

/// Open the output and start the thread; the queue's sender.
pub fn start(config: Arc<AccessLog>) -> Result<SyncSender<Message>, String> {
    let out = Output::open(&config)?;
    let (tx, rx) = sync_channel(QUEUE);
    std::thread::Builder::new()
        .name("access-log".into())
        .spawn(move || run(rx, out, &config))
        .map_err(|e| format!("access log thread: {e}"))?;
    Ok(tx)
}

/// Until every sender is gone (the config that started it was replaced and
/// its last request ended).
fn run(rx: Receiver<Message>, mut out: Output, config: &AccessLog) {
    while let Ok(first) = rx.recv() {
        let mut next = Some(first);
        while let Some(message) = next.take() {
            match message {
                Message::Entry(entry) => {
                    let mut line = match config.format {
                        LogFormat::Common => format::common(&entry),
                        LogFormat::Json => format::json(&entry, &config.fields),
                    };
                    line.push('\n');
                    if let Err(e) = out.writer().write_all(line.as_bytes()) {
                        tracing::warn!(error = %e, "access log write failed");
                    }
                }
                Message::Reopen => {
                    let _ = out.writer().flush();
                    match Output::open(config) {
                        Ok(fresh) => out = fresh,
                        Err(e) => tracing::warn!(error = %e, "access log not reopened"),
                    }
                }
            }
            next = rx.try_recv().ok();
        }
        let _ = out.writer().flush();
    }
    let _ = out.writer().flush();
}
