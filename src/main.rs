fn main() {
    std::process::exit(ctverify::cli_main());
}
