//! The `incident-bot` binary: parse the command line and hand over.

use std::process::ExitCode;

fn main() -> ExitCode {
    incident_bot::cli::main()
}
