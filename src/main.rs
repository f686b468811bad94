//! The `imgaudit` binary: arguments → library → exit code, nothing else.
fn main() -> std::process::ExitCode {
    imgaudit::cli::run()
}
