//! `libnm-vpn-plugin-sstp.so`: the libnm VPN editor plugin that `nmcli connection import
//! type sstp file F` and `nmcli connection export NAME F` load (the `.name` file's
//! `[libnm] plugin=`). The GObject side is C (`c/nm-sstp-editor-plugin.c`, built by
//! `build.rs` against libnm); it calls the functions below over plain C strings
//! (`c/sstp-nm-abi.h`). The logic is `sstp_nm::import` (pure, unit-tested there).
//!
//! Every function here catches panics: none unwinds into NetworkManager's process.

use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::fs;
use std::io::Read;
use std::panic::{catch_unwind, AssertUnwindSafe};

use sstp_nm::import::{self, Format, ImportError, Imported, Profile, MAX_FILE};

/// `enum sstp_nm_item` of `c/sstp-nm-abi.h`.
const ITEM_ID: c_int = 0;
const ITEM_DATA: c_int = 1;
const ITEM_NEVER_DEFAULT: c_int = 2;
const ITEM_NOTE: c_int = 3;

/// The C side's callback receiving items.
pub type Sink = extern "C" fn(*mut c_void, c_int, *const c_char, *const c_char);

extern "C" {
    fn sstp_nm_editor_plugin_new(error: *mut *mut c_void) -> *mut c_void;
}

/// libnm's entry point (`NMVpnEditorPluginFactory`), defined here so that the cdylib
/// exports it; the object is the C side's.
///
/// # Safety
/// `error` is NULL or points to a `GError *` slot, as libnm passes it.
#[no_mangle]
pub unsafe extern "C" fn nm_vpn_editor_plugin_factory(error: *mut *mut c_void) -> *mut c_void {
    // SAFETY: the C function takes the same argument libnm gave us.
    unsafe { sstp_nm_editor_plugin_new(error) }
}

fn read_file(path: &str) -> Result<Vec<u8>, ImportError> {
    let fail = |e: std::io::Error| ImportError(format!("cannot read {path:?}: {e}"));
    let mut buf = Vec::new();
    fs::File::open(path)
        .map_err(fail)?
        .take(MAX_FILE as u64 + 1)
        .read_to_end(&mut buf)
        .map_err(fail)?;
    Ok(buf)
}

/// A C string from Rust text (interior NULs, impossible after decoding, become `?`).
fn c_string(s: &str) -> CString {
    CString::new(s.replace('\0', "?")).unwrap_or_default()
}

fn into_c(s: &str) -> *mut c_char {
    c_string(s).into_raw()
}

/// # Safety
/// `p` is NULL or a NUL-terminated string.
unsafe fn text<'a>(p: *const c_char) -> Result<&'a str, ImportError> {
    if p.is_null() {
        return Err(ImportError("missing argument".into()));
    }
    // SAFETY: the caller guarantees a NUL-terminated string that outlives the call.
    unsafe { CStr::from_ptr(p) }
        .to_str()
        .map_err(|_| ImportError("a name or value is not UTF-8".into()))
}

fn send(sink: Sink, ud: *mut c_void, item: c_int, key: &str, value: &str) {
    let (k, v) = (c_string(key), c_string(value));
    sink(ud, item, k.as_ptr(), v.as_ptr());
}

fn send_imported(got: &Imported, sink: Sink, ud: *mut c_void) {
    send(sink, ud, ITEM_ID, "", &got.profile.id);
    for (k, v) in &got.profile.data {
        send(sink, ud, ITEM_DATA, k, v);
    }
    if let Some(nd) = got.profile.never_default {
        send(
            sink,
            ud,
            ITEM_NEVER_DEFAULT,
            "",
            if nd { "yes" } else { "no" },
        );
    }
    for n in &got.notes {
        send(sink, ud, ITEM_NOTE, "", n);
    }
}

fn guarded(f: impl FnOnce() -> Result<(), ImportError>) -> *mut c_char {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => std::ptr::null_mut(),
        Ok(Err(e)) => into_c(&e.0),
        Err(_) => into_c("internal error in the sstp-rs editor plugin (please report it)"),
    }
}

/// Imports `path` (our format or a phonebook's first SSTP entry) and hands the items to
/// `sink`. Returns NULL, or the error sentence (free with [`sstp_nm_free`]).
///
/// # Safety
/// `path` is a NUL-terminated string; `sink` is callable with `user_data`.
#[no_mangle]
pub unsafe extern "C" fn sstp_nm_import(
    path: *const c_char,
    sink: Sink,
    user_data: *mut c_void,
) -> *mut c_char {
    guarded(|| {
        // SAFETY: per this function's contract.
        let path = unsafe { text(path) }?;
        let got = import::import(&read_file(path)?, None)?;
        send_imported(&got, sink, user_data);
        Ok(())
    })
}

/// # Safety
/// `keys` and `values` hold `n` NUL-terminated strings each (or `n` is 0).
unsafe fn profile(
    id: *const c_char,
    keys: *const *const c_char,
    values: *const *const c_char,
    n: usize,
    never_default: c_int,
) -> Result<Profile, ImportError> {
    // SAFETY: per this function's contract.
    let id = unsafe { text(id) }?;
    let mut p = Profile {
        id: id.to_owned(),
        ..Profile::default()
    };
    for i in 0..n {
        // SAFETY: i < n, both arrays hold n valid pointers.
        let (k, v) = unsafe { (text(*keys.add(i))?, text(*values.add(i))?) };
        p.data.insert(k.to_owned(), v.to_owned());
    }
    p.never_default = (never_default >= 0).then_some(never_default > 0);
    Ok(p)
}

/// Exports to `path` (`.pbk`: a phonebook, else our format), notes to `sink`. Returns NULL,
/// or the error sentence (free with [`sstp_nm_free`]).
///
/// # Safety
/// `path` and `id` are NUL-terminated; `keys`/`values` hold `n` NUL-terminated strings.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn sstp_nm_export(
    path: *const c_char,
    id: *const c_char,
    keys: *const *const c_char,
    values: *const *const c_char,
    n: usize,
    never_default: c_int,
    sink: Sink,
    user_data: *mut c_void,
) -> *mut c_char {
    guarded(|| {
        // SAFETY: per this function's contract.
        let (path, p) = unsafe { (text(path)?, profile(id, keys, values, n, never_default)?) };
        let (out, notes) = import::export(&p, Format::for_path(path))?;
        fs::write(path, out).map_err(|e| ImportError(format!("cannot write {path:?}: {e}")))?;
        notes
            .iter()
            .for_each(|m| send(sink, user_data, ITEM_NOTE, "", m));
        Ok(())
    })
}

/// The file name offered for an export of `id` (free with [`sstp_nm_free`]).
///
/// # Safety
/// `id` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn sstp_nm_suggested_filename(id: *const c_char) -> *mut c_char {
    // SAFETY: per this function's contract.
    let id = unsafe { text(id) }.unwrap_or("sstp");
    catch_unwind(|| into_c(&import::suggested_filename(id))).unwrap_or(std::ptr::null_mut())
}

/// Frees a string returned by the functions above.
///
/// # Safety
/// `s` is NULL or came from this library and was not freed yet.
#[no_mangle]
pub unsafe extern "C" fn sstp_nm_free(s: *mut c_char) {
    if !s.is_null() {
        // SAFETY: `s` came from CString::into_raw here.
        drop(unsafe { CString::from_raw(s) });
    }
}
