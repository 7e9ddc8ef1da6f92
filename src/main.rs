//! The `scim-sidecar` binary: parses arguments and runs one subcommand of [`scim_sidecar::cli`].

use clap::Parser;
use scim_sidecar::cli::{self, Cli, Command};
use std::process::ExitCode;

fn main() -> ExitCode {
    let args = Cli::parse();
    let log_format = args.log_format.map(Into::into);
    match args.command {
        Command::Validate { target } => cli::validate(&target),
        Command::Token => cli::token(),
        Command::Schema => cli::schema(),
        Command::Healthcheck { url } => cli::healthcheck(&url),
        Command::Serve { config, watch } => {
            runtime().block_on(cli::serve(&config, watch, log_format))
        }
        Command::Explain(args) => runtime().block_on(cli::explain(args)),
        Command::TestMapping { target, cases } => {
            runtime().block_on(cli::test_mapping(&target, cases.as_deref()))
        }
        Command::Check { target, json } => runtime().block_on(cli::check(&target, json)),
        Command::Demo { listen, token } => {
            // Runs before any thread exists, so changing the environment is sound here.
            scim_sidecar::demo::prepare_env();
            runtime().block_on(scim_sidecar::demo::run(listen, token, log_format))
        }
    }
}

fn runtime() -> tokio::runtime::Runtime {
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the async runtime: {e}");
            std::process::exit(1);
        }
    }
}
