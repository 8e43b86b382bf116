//! Ordering certificates into chains: leaf first, each followed by its issuer.

use crate::Certificate;

/// Longest chain keyway follows; real chains have 2–4 certificates.
const MAX_CHAIN: usize = 16;

/// Builds the chain that starts at `certs[leaf]` from the certificates not yet `used`,
/// marking those it takes. Issuers are matched by name and, where the name matches
/// more than one, by signature.
pub(crate) fn build_chain(
    leaf: usize,
    certs: &[Certificate],
    used: &mut [bool],
) -> Vec<Certificate> {
    let mut chain = vec![certs[leaf].clone()];
    used[leaf] = true;
    let mut taken = vec![leaf];
    while chain.len() < MAX_CHAIN {
        let current = &chain[chain.len() - 1];
        if current.info().self_issued {
            break;
        }
        let candidates: Vec<usize> = (0..certs.len())
            .filter(|i| !taken.contains(i) && certs[*i].info().subject == current.info().issuer)
            .collect();
        let next = match candidates.as_slice() {
            [] => break,
            [only] => *only,
            many => *many
                .iter()
                .find(|i| current.is_signed_by(&certs[**i]))
                .unwrap_or(&many[0]),
        };
        used[next] = true;
        taken.push(next);
        chain.push(certs[next].clone());
    }
    chain
}

/// Orders a set of certificates for a key: the leaf (the one whose key matches, or
/// else the one that issued nothing else) first, then its issuers.
pub(crate) fn order_for_key(
    certs: &[Certificate],
    leaf: usize,
) -> (Vec<Certificate>, Vec<Certificate>) {
    let mut used = vec![false; certs.len()];
    let chain = build_chain(leaf, certs, &mut used);
    let rest = certs
        .iter()
        .zip(&used)
        .filter(|(_, u)| !**u)
        .map(|(c, _)| c.clone())
        .collect();
    (chain, rest)
}
