//! Embeds every `sql/*.sql` file, in file-name order, into the binary (`SQL_FILES`), so the
//! server applies the functions and views it was built with wherever it runs; embeds the example
//! templates under `config/tasks/` (`EXAMPLE_TEMPLATES`); and generates the
//! gRPC code from `proto/tasker/v1/*.proto` with `protox` (pure Rust: no system `protoc`),
//! writing the descriptor set to `OUT_DIR/tasker_descriptor.bin` for server reflection. The
//! protos are compiled only with the `grpc-api` feature.
use std::{env, fs, path::Path};

fn main() {
    embed_sql();
    embed_examples();
    #[cfg(feature = "grpc-api")]
    compile_protos();
}

#[cfg(feature = "grpc-api")]
fn compile_protos() {
    println!("cargo:rerun-if-changed=proto");
    let mut protos: Vec<_> = fs::read_dir("proto/tasker/v1")
        .expect("proto/tasker/v1 directory")
        .filter_map(std::result::Result::ok)
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
        .filter_map(std::result::Result::ok)
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

fn embed_examples() {
    println!("cargo:rerun-if-changed=config/tasks");
    let mut files = Vec::new();
    collect_templates(Path::new("config/tasks"), &mut files);
    files.sort();
    let root = env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR");
    let mut out = String::from(
        "/// The example templates of `config/tasks/`: (path under config/tasks, contents).\npub const EXAMPLE_TEMPLATES: &[(&str, &str)] = &[\n",
    );
    for f in &files {
        let rel = f.strip_prefix("config/tasks").expect("under config/tasks").display().to_string();
        out.push_str(&format!("    ({rel:?}, include_str!({:?})),\n", Path::new(&root).join(f).display().to_string()));
    }
    out.push_str("];\n");
    let dest = Path::new(&env::var("OUT_DIR").expect("OUT_DIR")).join("example_templates.rs");
    fs::write(dest, out).expect("write example_templates.rs");
}

fn collect_templates(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    for entry in entries.filter_map(std::result::Result::ok) {
        let path = entry.path();
        if path.is_dir() {
            collect_templates(&path, out);
        } else if path.extension().and_then(|x| x.to_str()).is_some_and(|x| matches!(x, "yaml" | "yml" | "json")) {
            out.push(path);
        }
    }
}
