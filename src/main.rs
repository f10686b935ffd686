use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = p2p_tui::cli::Cli::parse();
    if let Err(e) = color_eyre::install() {
        eprintln!("p2p-tui: {e}");
    }
    match p2p_tui::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // One clear sentence (with its causes), not a backtrace wall.
            eprintln!("p2p-tui: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
