//! The `tollgate` command: `run` serves a config, `check` validates one,
//! `convert` writes a Traefik 1.7 config as Traefik 2/3's, `plugin new`
//! writes a plugin crate, `plugin precompile` fills the compiled-plugin
//! cache ahead of a first start, `healthcheck` asks a running tollgate's `/ping`
//! (for container images, which have no curl).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// mimalloc: the request path allocates small, short-lived buffers and
/// header maps across threads; it measured ~10% less CPU per proxied request
/// than glibc malloc (proxy/benches/compare.sh).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc keeps a thread's freed pages for reuse and gives them back to
/// the system (purges them) only when called again after its purge delay.
/// A worker that freed a wave of memory and then went idle (10,000
/// keep-alive connections parking at once: `http1::server::PARK_AFTER`)
/// would keep it all in RSS. So each worker collects when it goes idle, at
/// most every 100 ms (a worker under load goes idle thousands of times a
/// second; at 10 a second the collections cost nothing measurable), and the
/// 1 s statistics tick makes sure an idle thread comes back to it: RSS
/// settles within a second of the wave (once a second, it took up to two,
/// and a measurement 2 s after 10,000 connections parked read 0.8 to 7
/// KiB each).
fn collect_when_idle() {
    use std::cell::Cell;
    use std::time::{Duration, Instant};
    thread_local! {
        static LAST: Cell<Option<Instant>> = const { Cell::new(None) };
    }
    let now = Instant::now();
    let due = LAST
        .get()
        .is_none_or(|last| now - last >= Duration::from_millis(100));
    if due {
        LAST.set(Some(now));
        // SAFETY: mi_collect takes no pointer and may be called by any
        // thread at any time; it only frees what is unused.
        unsafe { libmimalloc_sys::mi_collect(true) };
    }
}

/// The config a newcomer gets with no flag.
const DEFAULT_CONFIG: &str = "config/tollgate.toml";

#[derive(Parser)]
#[command(
    name = "tollgate",
    version,
    about = "A reverse proxy with WebAssembly middleware, configured like Traefik (1.7, 2 or 3)"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the configuration until SIGTERM or SIGINT.
    Run {
        /// Configuration file (Traefik 1.7 TOML, or Traefik 2/3 TOML or YAML).
        #[arg(short, long, default_value = DEFAULT_CONFIG)]
        config: PathBuf,
    },
    /// Validate a configuration and print what it would serve.
    Check {
        #[arg(short, long, default_value = DEFAULT_CONFIG)]
        config: PathBuf,
    },
    /// Write a Traefik 1.7 configuration as Traefik 2/3's (routers,
    /// services, middlewares); what has no equivalent is listed on stderr
    /// and at the top of the output.
    Convert {
        /// The dialect to convert from (only 1.7).
        #[arg(long, value_parser = ["1.7"])]
        from: String,
        /// yaml or toml.
        #[arg(long, default_value = "yaml", value_parser = ["yaml", "toml"])]
        to: String,
        /// Write here instead of standard output.
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// The Traefik 1.7 file.
        file: PathBuf,
    },
    /// Plugin authoring.
    Plugin {
        #[command(subcommand)]
        command: PluginCommand,
    },
    /// On a device: keep a tunnel to a tollgate server's [tunnels] entry
    /// point open and serve the device's web UI through it (no sshd).
    Agent {
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
    },
    /// Print a new token for device NAME (give it to its agent) and the
    /// hash for [tunnels.devices.NAME] tokenHash.
    TunnelToken { name: String },
    /// GET a URL (by default `/ping` on 127.0.0.1:8080); exit 0 on a 200
    /// within 3 s, else 1 (a container's HEALTHCHECK).
    Healthcheck {
        #[arg(default_value = "http://127.0.0.1:8080/ping")]
        url: String,
    },
}

#[derive(Subcommand)]
enum PluginCommand {
    /// Write a new plugin crate (tests, SDK, runnable config) in DIR/NAME.
    New {
        /// The crate's and the .wasm file's name, e.g. my-auth.
        name: String,
        #[arg(long, default_value = ".")]
        dir: PathBuf,
    },
    /// Compile the built-in plugins, and these .wasm files, into the
    /// compiled-code cache (TOLLGATE_PLUGIN_CACHE, systemd's
    /// CACHE_DIRECTORY, else ~/.cache/tollgate), so that the first start
    /// does not compile them. Run it as the user tollgate runs as.
    Precompile {
        /// Plugin modules besides the built-in ones.
        files: Vec<PathBuf>,
    },
}

fn main() -> ExitCode {
    tollgate::tls::install_process_default();
    let cli = Cli::parse();
    match cli.command.unwrap_or(Command::Run {
        config: PathBuf::from(DEFAULT_CONFIG),
    }) {
        Command::Check { config } => check(&config),
        Command::Run { config } => run(&config),
        Command::Plugin {
            command: PluginCommand::Precompile { files },
        } => precompile(&files),
        Command::Plugin {
            command: PluginCommand::New { name, dir },
        } => match tollgate::scaffold::new_plugin(&name, &dir) {
            Ok(made) => {
                println!(
                    "wrote {}: cd there, then cargo test; cargo build --release --target \
                     wasm32-wasip1; tollgate run --config tollgate.toml",
                    made.display()
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("tollgate plugin new: {e}");
                ExitCode::from(2)
            }
        },
        Command::Convert {
            from: _,
            to,
            output,
            file,
        } => convert(&file, &to, output.as_deref()),
        Command::Agent {
            server,
            name,
            token_file,
            forward,
            ca,
        } => agent(server, name, &token_file, forward, ca),
        Command::TunnelToken { name } => tunnel_token(&name),
        Command::Healthcheck { url } => match healthcheck(&url) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("tollgate healthcheck {url}: {e}");
                ExitCode::FAILURE
            }
        },
    }
}

fn agent(
    server: String,
    name: String,
    token_file: &std::path::Path,
    forward: String,
    ca: Option<PathBuf>,
) -> ExitCode {
    let opts = tollgate::tunnel::agent::AgentOptions {
        server,
        name,
        token: String::new(),
        forward,
        ca,
    };
    match tollgate::tunnel::agent::main(token_file, opts) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tollgate agent: {e}");
            ExitCode::from(2)
        }
    }
}

fn tunnel_token(name: &str) -> ExitCode {
    if !tollgate::config::model::valid_device_name(name) {
        eprintln!(
            "tollgate tunnel-token: {name:?}: lower-case letters, digits, - and _ (at most 63)"
        );
        return ExitCode::from(2);
    }
    match tollgate::tunnel::token::new_token() {
        Ok((token, hash)) => {
            println!("# the device's token (its agent's --token-file); shown once:");
            println!("{token}");
            println!("# for the server's config:");
            println!("[tunnels.devices.{name}]");
            println!("tokenHash = \"{hash}\"");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("tollgate tunnel-token: {e}");
            ExitCode::FAILURE
        }
    }
}

/// One plain HTTP/1.1 GET, answered 200 within 3 s.
fn healthcheck(url: &str) -> Result<(), String> {
    use std::io::{Read, Write};
    use std::net::ToSocketAddrs;
    use std::time::Duration;

    let uri: http::Uri = url.parse().map_err(|e| format!("not a URL: {e}"))?;
    if uri.scheme_str() != Some("http") {
        return Err("only http:// URLs are checked".into());
    }
    let authority = uri.authority().ok_or("no host in the URL")?;
    let port = authority.port_u16().unwrap_or(80);
    let addr = (authority.host().trim_matches(['[', ']']), port)
        .to_socket_addrs()
        .map_err(|e| e.to_string())?
        .next()
        .ok_or("the host has no address")?;
    let limit = Duration::from_secs(3);
    let mut stream =
        std::net::TcpStream::connect_timeout(&addr, limit).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(limit))
        .map_err(|e| e.to_string())?;
    stream
        .set_write_timeout(Some(limit))
        .map_err(|e| e.to_string())?;
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {authority}\r\nUser-Agent: tollgate-healthcheck\r\nConnection: close\r\n\r\n"
    )
    .map_err(|e| e.to_string())?;
    let mut head = [0u8; 64];
    let mut got = 0;
    while got < 12 {
        match stream.read(&mut head[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) => return Err(e.to_string()),
        }
    }
    let line = String::from_utf8_lossy(&head[..got]);
    let status = line.split_whitespace().nth(1).unwrap_or("(none)");
    if line.starts_with("HTTP/1.") && status == "200" {
        Ok(())
    } else {
        Err(format!("status {status}"))
    }
}

fn convert(path: &std::path::Path, to: &str, output: Option<&std::path::Path>) -> ExitCode {
    use tollgate::config::model::Dialect;
    use tollgate::convert::{from_traefik1, Format};
    let config = match tollgate::config::load_file(path) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("tollgate convert: the configuration has errors:\n{e}");
            return ExitCode::from(2);
        }
    };
    if config.dialects.first().map(|(_, d)| *d) != Some(Dialect::Traefik1) {
        eprintln!(
            "tollgate convert: {} is not a Traefik 1.7 configuration",
            path.display()
        );
        return ExitCode::from(2);
    }
    let format = if to == "toml" {
        Format::Toml
    } else {
        Format::Yaml
    };
    let converted = match from_traefik1(&config, format) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("tollgate convert: {e}");
            return ExitCode::from(2);
        }
    };
    for note in &converted.notes {
        eprintln!("not converted: {note}");
    }
    match output {
        Some(out) => {
            if let Err(e) = std::fs::write(out, &converted.text) {
                eprintln!("tollgate convert: cannot write {}: {e}", out.display());
                return ExitCode::FAILURE;
            }
        }
        None => print!("{}", converted.text),
    }
    ExitCode::SUCCESS
}

fn precompile(files: &[PathBuf]) -> ExitCode {
    match tollgate::wasm::precompile::precompile(files) {
        Ok(done) => {
            for p in done {
                let what = if p.compiled {
                    "compiled"
                } else {
                    "cached already"
                };
                println!("{what}: {} -> {}", p.source, p.file.display());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("tollgate plugin precompile: {e}");
            ExitCode::from(2)
        }
    }
}

fn check(path: &std::path::Path) -> ExitCode {
    match tollgate::config::load_file(path) {
        Ok(cfg) => print_warnings(&cfg),
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    }
    match tollgate::check(path) {
        Ok(summary) => {
            print!("{summary}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(2)
        }
    }
}

fn run(path: &std::path::Path) -> ExitCode {
    let config = match tollgate::config::load_file(path) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("tollgate: refusing to start, the configuration has errors:\n{e}");
            return ExitCode::from(2);
        }
    };
    if let Err(e) = tollgate::logging::init(&config.log) {
        eprintln!("tollgate: {e}");
        return ExitCode::from(2);
    }
    for w in &config.warnings {
        tracing::warn!("{w}");
    }
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    // TOLLGATE_WORKER_THREADS pins the number of request threads (benchmarks
    // use 1 to compare with single-worker nginx/HAProxy); default: one per core.
    if let Some(n) = std::env::var("TOLLGATE_WORKER_THREADS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|n| *n > 0)
    {
        builder.worker_threads(n);
    }
    builder.on_thread_park(collect_when_idle);
    let runtime = match builder.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("tollgate: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(tollgate::run(path.to_path_buf(), config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("tollgate: {e}");
            ExitCode::FAILURE
        }
    }
}

fn print_warnings(cfg: &tollgate::config::Config) {
    for w in &cfg.warnings {
        eprintln!("warning: {w}");
    }
}
