//! The `allegro` binary: parses the command line and hands over to the library.

fn main() {
    std::process::exit(allegro_control::main_with_args(std::env::args_os()));
}
