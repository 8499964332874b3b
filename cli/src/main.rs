use std::process::ExitCode;

fn main() -> ExitCode {
    sstp_cli::cli::main().into()
}
