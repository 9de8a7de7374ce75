//! Embeds every `sql/*.sql` file, in file-name order, into the binary (`SQL_FILES`), so the
//! server applies the functions and views it was built with wherever it runs; and generates the
//! gRPC code from `proto/tasker/v1/*.proto` with `protox` (pure Rust: no system `protoc`),
//! writing the descriptor set to `OUT_DIR/tasker_descriptor.bin` for server reflection.
use std::{env, fs, path::Path};

fn main() {
    embed_sql();
    compile_protos();
}

fn compile_protos() {
    println!("cargo:rerun-if-changed=proto");
    let mut protos: Vec<_> = fs::read_dir("proto/tasker/v1")
        .expect("proto/tasker/v1 directory")
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "proto"))
        .collect();
    protos.sort();
    let fds = match protox::compile(&protos, ["proto"]) {
        Ok(fds) => fds,
        Err(e) => panic!("compiling proto/tasker/v1: {e}"),
    };
    let out = Path::new(&env::var("OUT_DIR").expect("OUT_DIR")).join("tasker_descriptor.bin");
    fs::write(&out, protox::prost::Message::encode_to_vec(&fds)).expect("write tasker_descriptor.bin");
    tonic_prost_build::configure().build_client(true).build_server(true).compile_fds(fds).expect("generate gRPC code");
}

fn embed_sql() {
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
