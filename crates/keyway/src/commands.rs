//! One module per noun of the command line: each owns its clap arguments and its `run`.

pub mod audit;
pub mod audit_log;
pub mod ca;
pub mod cert;
pub mod config;
pub mod connector;
pub mod crl;
pub mod csr;
pub mod expiry;
pub mod identity;
pub mod import;
pub mod init;
pub mod integration;
pub mod key;
pub mod keystore;
pub mod probe;
pub mod serve;
pub mod test;
pub mod token;
pub mod truststore;
pub mod user;
