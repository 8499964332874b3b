//! pppd-sys build script: headers -> version -> bindgen -> C shim -> cfgs/metadata.
//!
//! Inputs (environment):
//! - `PPPD_INCLUDE_DIR`: directory that contains `pppd/pppd.h` (e.g. the `include` dir of
//!   `cargo xtask pppd25`'s install prefix). Also accepted: the `pppd` directory itself.
//!   Else pkg-config `pppd` (2.5.x installs `pppd.pc`), else `/usr/include`.
//! - `PPPD_VERSION`: overrides the detected version string (must equal pppd's exactly).
//!
//! Outputs: `cargo::metadata=version=...` (-> `DEP_PPPD_VERSION` for dependants, `links = "pppd"`),
//! `include`, `api` (`2.4` or `2.5`); cfgs `pppd_api_25`, `pppd_has_fd_callback`.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo::rerun-if-env-changed=PPPD_INCLUDE_DIR");
    println!("cargo::rerun-if-env-changed=PPPD_VERSION");
    println!("cargo::rerun-if-env-changed=PKG_CONFIG_PATH");
    println!("cargo::rerun-if-changed=shim/pppd_shim.c");
    println!("cargo::rerun-if-changed=shim/pppd_shim.h");
    println!("cargo::rerun-if-changed=wrapper.h");
    println!("cargo::rerun-if-changed=probe.c");
    println!("cargo::rustc-check-cfg=cfg(pppd_api_25)");
    println!("cargo::rustc-check-cfg=cfg(pppd_has_fd_callback)");

    let include = find_include_dir();
    let pppd_dir = include.join("pppd");
    if !pppd_dir.join("pppd.h").is_file() {
        panic!(
            "pppd headers not found: {} has no pppd/pppd.h (install ppp-dev or set PPPD_INCLUDE_DIR)",
            include.display()
        );
    }
    println!(
        "cargo::rerun-if-changed={}",
        pppd_dir.join("pppd.h").display()
    );
    let api25 = pppd_dir.join("pppdconf.h").is_file();
    if api25 {
        println!(
            "cargo::rerun-if-changed={}",
            pppd_dir.join("pppdconf.h").display()
        );
    } else {
        println!(
            "cargo::rerun-if-changed={}",
            pppd_dir.join("patchlevel.h").display()
        );
    }

    let version = match env::var("PPPD_VERSION") {
        Ok(v) if !v.trim().is_empty() => v.trim().to_owned(),
        _ => probe_version(&include),
    };
    validate_version(&version);
    let parts = parse_version(&version);
    if api25 != (parts >= (2, 5, 0)) {
        println!(
            "cargo::warning=pppd version {version} does not match the headers' API ({})",
            if api25 { "2.5" } else { "2.4" }
        );
    }
    if api25 {
        println!("cargo::rustc-cfg=pppd_api_25");
    }
    if parts >= (2, 5, 3) {
        println!("cargo::rustc-cfg=pppd_has_fd_callback");
    }

    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let out = PathBuf::from(env::var("OUT_DIR").expect("OUT_DIR"));

    // C shim. pppd's symbols stay undefined: they resolve against the pppd executable at dlopen.
    cc::Build::new()
        .file(manifest.join("shim/pppd_shim.c"))
        .include(&include)
        .include(manifest.join("shim"))
        .flag_if_supported("-Wno-unused-parameter")
        .flag_if_supported("-Wno-deprecated-declarations")
        .compile("sstp_pppd_shim");

    let bindings = bindgen::Builder::default()
        .header(manifest.join("wrapper.h").to_string_lossy())
        .clang_arg(format!("-I{}", include.display()))
        .clang_arg(format!("-I{}", manifest.display()))
        .allowlist_function("sstp_shim_.*")
        .allowlist_type("sstp_shim_.*")
        .allowlist_var("SSTP_SHIM_.*")
        .default_enum_style(bindgen::EnumVariation::Consts)
        .prepend_enum_name(false)
        .layout_tests(false)
        .use_core()
        .wrap_unsafe_ops(true)
        .generate_cstr(true)
        .parse_callbacks(Box::new(bindgen::CargoCallbacks::new()))
        .generate()
        .expect("bindgen failed on pppd headers + shim");
    bindings
        .write_to_file(out.join("bindings.rs"))
        .expect("write bindings.rs");

    println!("cargo::metadata=version={version}");
    println!("cargo::metadata=include={}", include.display());
    println!("cargo::metadata=api={}", if api25 { "2.5" } else { "2.4" });
    println!("cargo::rustc-env=PPPD_SYS_VERSION={version}");
}

fn find_include_dir() -> PathBuf {
    if let Ok(dir) = env::var("PPPD_INCLUDE_DIR") {
        let p = PathBuf::from(dir);
        // Accept the directory that holds pppd.h itself, too.
        if p.join("pppd.h").is_file() && !p.join("pppd/pppd.h").is_file() {
            if let Some(parent) = p.parent() {
                return parent.to_path_buf();
            }
        }
        return p;
    }
    if let Some(dir) = pkg_config_include() {
        return dir;
    }
    PathBuf::from("/usr/include")
}

fn pkg_config_include() -> Option<PathBuf> {
    let out = Command::new("pkg-config")
        .args(["--variable=includedir", "pppd"])
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let s = String::from_utf8(out.stdout).ok()?;
    let p = PathBuf::from(s.trim());
    if p.join("pppd/pppd.h").is_file() {
        Some(p)
    } else {
        None
    }
}

/// Preprocess probe.c and read the string after the `SSTP_PROBE_VERSION` marker.
fn probe_version(include: &Path) -> String {
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let expanded = cc::Build::new()
        .file(manifest.join("probe.c"))
        .include(include)
        .cargo_warnings(false)
        .try_expand()
        .unwrap_or_else(|e| panic!("cannot preprocess the pppd version probe: {e}"));
    let text = String::from_utf8_lossy(&expanded);
    // The expansion of a macro from a system header may land on a later line (after a `#`
    // line marker), so take the first string literal after the marker.
    if let Some(pos) = text.find("SSTP_PROBE_VERSION") {
        let rest = &text[pos + "SSTP_PROBE_VERSION".len()..];
        for line in rest.lines().map(str::trim) {
            if line.starts_with('#') {
                continue; // line marker
            }
            let mut quoted = line.split('"');
            if let (Some(_), Some(v)) = (quoted.next(), quoted.next()) {
                if !v.trim().is_empty() {
                    return v.trim().to_owned();
                }
            }
        }
    }
    panic!(
        "pppd version probe printed no version (is {} a pppd include dir?)",
        include.display()
    );
}

fn validate_version(v: &str) {
    let ok = !v.is_empty()
        && v.len() < 32
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b'_');
    if !ok {
        panic!("implausible pppd version string {v:?}");
    }
}

fn parse_version(v: &str) -> (u32, u32, u32) {
    let mut it = v
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<u32>().unwrap_or(0));
    (
        it.next().unwrap_or(0),
        it.next().unwrap_or(0),
        it.next().unwrap_or(0),
    )
}
