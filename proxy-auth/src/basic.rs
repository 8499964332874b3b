//! Basic authentication (RFC 7617), UTF-8.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use crate::credentials::wipe_string;

/// `Basic base64(user ":" password)`, both encoded as UTF-8 (RFC 7617 §2.1 with
/// `charset="UTF-8"`, which is also what every proxy does without the parameter).
pub fn basic_authorization(username: &str, password: &str) -> String {
    let mut plain = String::with_capacity(username.len() + password.len() + 1);
    plain.push_str(username);
    plain.push(':');
    plain.push_str(password);
    // Exact capacity: encode_string never reallocates, so no copy of the credentials is left.
    let mut out = String::with_capacity(6 + plain.len().div_ceil(3) * 4);
    out.push_str("Basic ");
    STANDARD.encode_string(plain.as_bytes(), &mut out);
    wipe_string(&mut plain);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7617_examples() {
        // §2: Aladdin / open sesame.
        assert_eq!(
            basic_authorization("Aladdin", "open sesame"),
            "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
        );
        // §2.1: user "test", password "123£" in UTF-8.
        assert_eq!(
            basic_authorization("test", "123\u{a3}"),
            "Basic dGVzdDoxMjPCow=="
        );
        let h = basic_authorization("alice", "pw");
        assert_eq!(h.len(), h.capacity(), "built without a reallocation");
    }
}
