#[tokio::main]
async fn main() {
    let (cli, given) = p2p_tui::cli::Cli::parse_given();
    if let Err(e) = color_eyre::install() {
        eprintln!("p2p-tui: {e}");
    }
    let code = match p2p_tui::run(cli, &given).await {
        Ok(code) => code,
        Err(e) => {
            // One clear sentence (with its causes), not a backtrace wall.
            eprintln!("p2p-tui: {e:#}");
            1
        }
    };
    // Exit here rather than dropping the runtime: a console's pending stdin read lives on a
    // blocking thread that would otherwise hold the process open after Ctrl-C. Every task that
    // owns a partial file has already finished.
    std::process::exit(code);
}
