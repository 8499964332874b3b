//! Builds the C side of the editor plugin against libnm (`libnm-dev`), and the small probe
//! program the tests drive (`c/plugin-probe.c`).
use std::path::PathBuf;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=c");
    let nm = pkg_config::Config::new()
        .atleast_version("1.20")
        .probe("libnm")
        .expect("libnm (apt-get install libnm-dev) is needed to build the editor plugin");
    let mut b = cc::Build::new();
    b.file("c/nm-sstp-editor-plugin.c")
        .warnings(true)
        .extra_warnings(true);
    nm.include_paths.iter().for_each(|p| {
        b.include(p);
    });
    b.compile("nm_sstp_editor_plugin");
    build_probe(&b);
}

/// The probe is a separate program so that it loads the .so the way nmcli does (dlopen).
fn build_probe(b: &cc::Build) {
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("plugin-probe");
    let flags = Command::new("pkg-config")
        .args(["--cflags", "--libs", "libnm"])
        .output()
        .expect("pkg-config");
    let flags = String::from_utf8(flags.stdout).unwrap();
    let status = b
        .get_compiler()
        .to_command()
        .arg("c/plugin-probe.c")
        .arg("-o")
        .arg(&out)
        .args(flags.split_whitespace())
        .status()
        .expect("C compiler");
    assert!(status.success(), "building c/plugin-probe.c failed");
    println!("cargo:rustc-env=SSTP_NM_PLUGIN_PROBE={}", out.display());
}
