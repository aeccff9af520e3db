fn main() {
    std::process::exit(ctverify::cli::main());
}
