//! `tollgate-agent`: `tollgate agent` alone, for devices. It calls nothing
//! of the proxy but the tunnel's device side, so the linker leaves out the
//! WebAssembly runtime and the rest: a small binary for a Raspberry Pi.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

/// Keep a tunnel to a tollgate server's [tunnels] entry point open and
/// serve this device's web UI through it.
#[derive(Parser)]
#[command(name = "tollgate-agent", version)]
struct Args {
    /// The server's tunnels entry point, HOST:PORT.
    #[arg(long)]
    server: String,
    /// This device's name, as in [tunnels.devices.NAME] and tunnel://NAME.
    #[arg(long)]
    name: String,
    /// File holding the device's token (tollgate tunnel-token NAME).
    #[arg(long)]
    token_file: PathBuf,
    /// The device's service to serve, e.g. 127.0.0.1:8888.
    #[arg(long)]
    forward: String,
    /// PEM file of the CA of the server's certificate (default: the system's roots).
    #[arg(long)]
    ca: Option<PathBuf>,
}

fn main() -> ExitCode {
    // Err only when one is installed already.
    let _ = tollgate::tls::agent_provider().install_default();
    let args = Args::parse();
    let opts = tollgate::tunnel::agent::AgentOptions {
        server: args.server,
        name: args.name,
        token: String::new(),
        forward: args.forward,
        ca: args.ca,
    };
    match tollgate::tunnel::agent::main(&args.token_file, opts) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tollgate-agent: {e}");
            ExitCode::from(2)
        }
    }
}
