//! tufkit-repo: the TUF repository library.
#![forbid(unsafe_code)]
#![warn(missing_docs)]
