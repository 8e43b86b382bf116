//! Certificates issued per second by keyway's CA in-process, for `bench/pki-issue.sh`.
//!
//! `issue_rate DIR N` creates a CA in DIR (a fresh directory), then times N issuances of
//! each kind through the public API, each certificate recorded and fsync'd as `keyway ca`
//! does it:
//! - `issue`: generate a P-256 key and sign a client certificate for it;
//! - `sign_csr`: sign an existing CSR (made beforehand, not timed).
//!
//! Prints `issue CERTS_PER_SECOND` and `sign_csr CERTS_PER_SECOND`, one per line.

use std::path::PathBuf;
use std::time::Instant;

use keyway_pki::{
    Ca, CaInit, IssueProfile, IssueRequest, KeyType, MasterKey, create_csr, generate,
    parse_subject, read_csr,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(dir), Some(n)) = (args.next(), args.next()) else {
        return Err("usage: issue_rate DIR N".into());
    };
    let dir = PathBuf::from(dir);
    let n: usize = n.parse()?;
    let ca = Ca::init(
        &dir,
        &CaInit {
            subject: parse_subject("CN=bench CA")?,
            key_type: KeyType::EcP256,
            with_intermediate: false,
        },
        None,
    )?;
    let master = MasterKey::load(&dir, None)?;
    let request = IssueRequest {
        profile: IssueProfile::Client,
        days: 365,
        owner: Some("bench".into()),
    };
    let signer = ca.unlock(&master)?;

    let start = Instant::now();
    for i in 0..n {
        signer.issue(
            KeyType::EcP256,
            parse_subject(&format!("CN=client-{i},O=bench"))?,
            &[],
            &request,
        )?;
    }
    println!("issue {:.1}", n as f64 / start.elapsed().as_secs_f64());

    let csrs = (0..n)
        .map(|i| {
            let key = generate(KeyType::EcP256)?;
            let pem = create_csr(&key, parse_subject(&format!("CN=csr-{i},O=bench"))?, &[])?;
            Ok(read_csr(pem.as_bytes(), "bench CSR")?)
        })
        .collect::<Result<Vec<_>, Box<dyn std::error::Error>>>()?;
    let start = Instant::now();
    for csr in &csrs {
        signer.sign_csr(csr, &request)?;
    }
    println!("sign_csr {:.1}", n as f64 / start.elapsed().as_secs_f64());

    let recorded = ca.list()?.len();
    if recorded != 2 * n {
        return Err(format!("{recorded} records for {} certificates", 2 * n).into());
    }
    Ok(())
}
