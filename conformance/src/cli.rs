//! Command-line options for the cucumber runners, which `cargo test` starts
//! with whatever arguments it passes to every test target.

use cucumber::cli;

/// Cucumber's own options when the command line holds them; defaults when it
/// holds something else (such as libtest flags passed to every test target).
pub fn options<P, R, W>() -> cli::Opts<P, R, W>
where
    P: clap::Args + Default,
    R: clap::Args + Default,
    W: clap::Args + Default,
{
    match <cli::Opts<P, R, W> as clap::Parser>::try_parse() {
        Ok(opts) => opts,
        Err(e)
            if matches!(
                e.kind(),
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion
            ) =>
        {
            e.exit()
        }
        Err(e) => {
            let first = e.to_string();
            println!(
                "conformance: ignoring command-line arguments cucumber does not take: {}",
                first.lines().next().unwrap_or_default()
            );
            cli::Opts::default()
        }
    }
}
