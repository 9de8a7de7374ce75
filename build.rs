//! Embeds every `sql/*.sql` file, in file-name order, into the binary (`SQL_FILES`), so the
//! server applies the functions and views it was built with wherever it runs.
use std::{env, fs, path::Path};

fn main() {
    println!("cargo:rerun-if-changed=sql");
    println!("cargo:rerun-if-changed=migrations");
    let mut files: Vec<_> = fs::read_dir("sql")
        .expect("sql/ directory")
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "sql"))
        .collect();
    files.sort();
    let root = env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR");
    let mut out = String::from(
        "/// `sql/` files in apply order: (file name, contents).\npub const SQL_FILES: &[(&str, &str)] = &[\n",
    );
    for f in &files {
        let name = f.file_name().and_then(|n| n.to_str()).expect("utf-8 file name");
        out.push_str(&format!("    ({name:?}, include_str!({:?})),\n", Path::new(&root).join(f).display().to_string()));
    }
    out.push_str("];\n");
    let dest = Path::new(&env::var("OUT_DIR").expect("OUT_DIR")).join("sql_files.rs");
    fs::write(dest, out).expect("write sql_files.rs");
}
