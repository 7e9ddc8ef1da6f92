//! The `scim-sidecar` binary: parses arguments and runs one subcommand of [`scim_sidecar::cli`]
//! on a runtime sized by `server.worker_threads`.

use clap::Parser;
use scim_sidecar::cli::{self, Cli, Command};
use scim_sidecar::config::Config;
use std::process::ExitCode;

// Every request builds and drops many small JSON and script values; mimalloc serves them with
// far fewer instructions than glibc's allocator (see README, Performance).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let args = Cli::parse();
    let log_format = args.log_format.map(Into::into);
    match args.command {
        Command::Validate { target } => cli::validate(&target),
        Command::Token => cli::token(),
        Command::Schema => cli::schema(),
        Command::Healthcheck { url } => cli::healthcheck(&url),
        Command::Serve { config, watch } => {
            // Read once more by `serve`, which reports any problem; here only the thread count
            // matters, and a broken config just gets the default runtime to report from.
            let threads = Config::load_without_tokens(Some(&config), std::env::vars())
                .map_or(0, |c| c.server.worker_threads);
            runtime(threads).block_on(cli::serve(&config, watch, log_format))
        }
        Command::Explain(args) => runtime(0).block_on(cli::explain(args)),
        Command::TestMapping { target, cases } => {
            runtime(0).block_on(cli::test_mapping(&target, cases.as_deref()))
        }
        Command::Check { target, json } => runtime(0).block_on(cli::check(&target, json)),
        Command::Demo { listen, token } => {
            // Runs before any thread exists, so changing the environment is sound here.
            scim_sidecar::demo::prepare_env();
            runtime(0).block_on(scim_sidecar::demo::run(listen, token, log_format))
        }
    }
}

/// `threads` workers; 0 means one per CPU this process may run on (its affinity mask, so a
/// container or `taskset` limit counts). One worker gets the single-threaded scheduler: no work
/// stealing and no cross-thread wake-ups, which on one core only cost CPU.
fn runtime(threads: usize) -> tokio::runtime::Runtime {
    let threads = match threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    };
    let mut builder = if threads == 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut b = tokio::runtime::Builder::new_multi_thread();
        b.worker_threads(threads);
        b
    };
    match builder.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the async runtime: {e}");
            std::process::exit(1);
        }
    }
}
