//! tufkit-client: the async TUF updater.
#![forbid(unsafe_code)]
#![warn(missing_docs)]
