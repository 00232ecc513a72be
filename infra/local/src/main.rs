//! `courier-local`: the whole service in one process on the embedded
//! backends (`serve`, the default), and a receiver that verifies and prints
//! webhooks (`receiver`). Wiring only; the work is in the modules.

mod quickstart;
mod receiver;
mod server;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    version,
    about = "Courier webhook delivery, locally: no AWS, no set-up"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the API, intake and delivery on 127.0.0.1:3000 (LISTEN_ADDR).
    Serve,
    /// Receive webhooks on loopback, verify their signatures, print one line each.
    Receiver(receiver::ReceiverArgs),
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("RUST_LOG")
                .unwrap_or_else(|_| "info,courier::attempt=info".into()),
        )
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .init();
    match Cli::parse().command.unwrap_or(Command::Serve) {
        Command::Serve => server::serve().await,
        Command::Receiver(args) => receiver::run(args).await,
    }
}
