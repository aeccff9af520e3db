//! Regenerates the committed test vectors with the committed TEST keys:
//!
//!     cargo run --example generate_vectors -- vectors
//!
//! writes `vectors/sample/`, `vectors/cases/*/` and `vectors/lake/*/`. The output is deterministic; the test
//! suite checks that the committed vectors are what this produces.

use std::path::PathBuf;

fn main() {
    let out = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "vectors".into()));
    let keys = match ctverify_testgen::vectors::TestKeys::load(&out.join("test-keys")) {
        Ok(keys) => keys,
        Err(e) => {
            eprintln!("generate_vectors: {e}");
            std::process::exit(2);
        }
    };
    for dir in ["sample", "cases", "lake"] {
        let path = out.join(dir);
        if path.exists() {
            if let Err(e) = std::fs::remove_dir_all(&path) {
                eprintln!("generate_vectors: cannot clear {}: {e}", path.display());
                std::process::exit(2);
            }
        }
    }
    if let Err(e) = ctverify_testgen::vectors::write_all(&out, &keys) {
        eprintln!("generate_vectors: {e}");
        std::process::exit(1);
    }
    println!("wrote {0}/sample, {0}/cases and {0}/lake", out.display());
}
