use anyhow::Context;
use clap::{Parser, Subcommand};
use secworks::config::{Config, SECRET_VARIABLES_HELP, ServeArgs};
use secworks::{Application, app};

/// secworks: look IP addresses up against DNS blocklists through an authenticated GraphQL API.
#[derive(Debug, Parser)]
#[command(version, about, after_help = SECRET_VARIABLES_HELP, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the HTTP server (the default).
    #[command(after_help = SECRET_VARIABLES_HELP)]
    Serve(ServeArgs),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let cli = Cli::parse();
    let args = match cli.command {
        Some(Command::Serve(args)) => args,
        None => cli.serve,
    };
    let config = Config::from_args(args)?;
    let app = Application::build(config)
        .await
        .context("secworks cannot start")?;
    app.run_until(app::shutdown_signal())
        .await
        .context("server failed")?;
    Ok(())
}
