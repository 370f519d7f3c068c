//! `outsync`: see the `outsync_server` library.

fn main() -> std::process::ExitCode {
    outsync_server::main()
}
