//! Generates `pppd_version` from the version pppd-sys detected (`DEP_PPPD_VERSION`, set through
//! `links = "pppd"` + `cargo::metadata`), so the exported string always matches the headers.

use std::env;
use std::fs;
use std::path::PathBuf;

fn main() {
    println!("cargo::rerun-if-env-changed=DEP_PPPD_VERSION");
    println!("cargo::rustc-check-cfg=cfg(pppd_api_25)");
    let version = env::var("DEP_PPPD_VERSION")
        .expect("DEP_PPPD_VERSION missing: pppd-sys must emit cargo::metadata=version=...");
    assert!(
        !version.is_empty()
            && version
                .bytes()
                .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\'),
        "implausible pppd version {version:?}"
    );
    if env::var("DEP_PPPD_API").as_deref() == Ok("2.5") {
        println!("cargo::rustc-cfg=pppd_api_25");
    }
    let mut bytes: Vec<String> = version.bytes().map(|b| format!("{b:#04x}")).collect();
    bytes.push("0x00".into());
    let code = format!(
        "/// pppd's plugin loader compares this NUL-terminated array with its own version string.\n\
         #[no_mangle]\n\
         #[used]\n\
         pub static pppd_version: [u8; {n}] = [{list}];\n\
         /// The pppd version this build is for.\n\
         pub const PPPD_VERSION: &str = \"{version}\";\n",
        n = bytes.len(),
        list = bytes.join(", "),
    );
    let out = PathBuf::from(env::var("OUT_DIR").expect("OUT_DIR")).join("pppd_version.rs");
    fs::write(&out, code).expect("write pppd_version.rs");
}
