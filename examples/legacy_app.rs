//! Runs the example legacy application on its own, for trying the sidecar by hand:
//!
//! ```text
//! cargo run --example legacy_app -- --listen 127.0.0.1:4000 --api-key KEY [--seed N] [--delay-ms MS]
//! ```
//!
//! `--delay-ms` makes every call wait before it is handled: a slow application, for the
//! benchmark (`benches/run.py`). Requests are not recorded here (nobody could read them).
//!
//! The API key may also come from `LEGACY_APP_API_KEY` (the variable the shipped mapping reads).
//! Ctrl-C shuts the server down gracefully.

use scim_sidecar::example_app::{self, Fault};
use std::process::ExitCode;

const USAGE: &str = "usage: legacy_app [--listen ADDR] [--api-key KEY] [--seed N] [--delay-ms MS]

  --listen ADDR    address to listen on (default 127.0.0.1:4000)
  --api-key KEY    the X-Api-Key value clients must send (default: $LEGACY_APP_API_KEY)
  --seed N         create N users user1..N@example.com at start (default 0)
  --delay-ms MS    wait MS milliseconds before handling each call (default 0)";

struct Args {
    listen: String,
    api_key: String,
    seed: usize,
    delay_ms: u64,
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut listen = "127.0.0.1:4000".to_string();
    let mut api_key = std::env::var("LEGACY_APP_API_KEY").ok();
    let mut seed = 0;
    let mut delay_ms = 0;
    while let Some(arg) = args.next() {
        // Accept both `--flag value` and `--flag=value`.
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (arg, None),
        };
        if flag == "--help" || flag == "-h" {
            return Err(String::new());
        }
        let mut value = || {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        match flag.as_str() {
            "--listen" => listen = value()?,
            "--api-key" => api_key = Some(value()?),
            "--seed" => {
                let v = value()?;
                seed = v
                    .parse()
                    .map_err(|_| format!("--seed expects a number, got {v:?}"))?;
            }
            "--delay-ms" => {
                let v = value()?;
                delay_ms = v
                    .parse()
                    .map_err(|_| format!("--delay-ms expects a number, got {v:?}"))?;
            }
            _ => return Err(format!("unknown argument {flag:?}")),
        }
    }
    let api_key = api_key
        .filter(|k| !k.is_empty())
        .ok_or("an API key is required: pass --api-key or set LEGACY_APP_API_KEY")?;
    Ok(Args {
        listen,
        api_key,
        seed,
        delay_ms,
    })
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(message) if message.is_empty() => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("legacy_app: {message}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let listener = match tokio::net::TcpListener::bind(&args.listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("legacy_app: cannot listen on {}: {e}", args.listen);
            return ExitCode::FAILURE;
        }
    };
    let app = example_app::start(listener, args.api_key).await;
    app.set_recording(false);
    if args.delay_ms > 0 {
        // A delay fault that never runs out.
        app.inject(Fault::Delay {
            millis: args.delay_ms,
            times: usize::MAX,
        });
    }
    if args.seed > 0 {
        app.seed(args.seed);
    }
    eprintln!(
        "legacy app listening on {} ({} users); try: curl -H 'X-Api-Key: …' {}/api/v1/users",
        app.base_url(),
        app.users().len(),
        app.base_url()
    );
    if let Err(e) = tokio::signal::ctrl_c().await {
        eprintln!("legacy_app: cannot wait for Ctrl-C: {e}");
    }
    eprintln!("shutting down");
    app.shutdown().await;
    ExitCode::SUCCESS
}
