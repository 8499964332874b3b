//! placeholder
#[allow(missing_docs)]
pub fn x() {}
