//! Plain words for what the TLS libraries report. Every rustls, rustls-webpki and
//! OpenSSL error that can reach a user goes through here on its way to a summary, an
//! error message or JSON, so that no library's `Debug` rendering (`Context { … }`, byte
//! arrays, `Some(…)`) is ever shown.
//!
//! The matches name every variant keyway knows of. The enums are `#[non_exhaustive]`,
//! so each match also has a last arm for variants added later; that arm gives words too
//! (the general kind of failure), never the value itself.

use rustls::{AlertDescription, CertificateError, ExtendedKeyPurpose, PeerMisbehaved};
use x509_parser::der_parser::oid::Oid;

/// A rustls error in one sentence, without `Debug` output.
pub fn rustls_error(error: &rustls::Error) -> String {
    use rustls::Error as E;
    match error {
        E::InappropriateMessage { got_type, .. } => format!(
            "the peer sent an unexpected {} record at this stage of the handshake",
            content_type(u8::from(*got_type))
        ),
        E::InappropriateHandshakeMessage { got_type, .. } => format!(
            "the peer sent an unexpected {} message at this stage of the handshake",
            handshake_type(u8::from(*got_type))
        ),
        E::InvalidEncryptedClientHello(_) => {
            "the encrypted ClientHello (ECH) configuration was refused".into()
        }
        E::InvalidMessage(m) => format!("the peer sent a malformed TLS message: {}", invalid_message(m)),
        E::NoCertificatesPresented => "the peer presented no certificate".into(),
        E::UnsupportedNameType => "the server name is of a type TLS cannot send".into(),
        E::DecryptError => {
            "a record from the peer could not be decrypted (a corrupted connection, or a broken TLS stack on its side)".into()
        }
        E::EncryptError => "a record could not be encrypted".into(),
        E::PeerIncompatible(p) => format!("the peer cannot do what TLS needs here: {}", peer_incompatible(p)),
        E::PeerMisbehaved(p) => format!("the peer broke the TLS protocol: it {}", peer_misbehaved(p)),
        E::AlertReceived(alert) => format!("the peer sent the fatal alert {}", alert_words(*alert)),
        E::InvalidCertificate(e) => format!("the certificate was refused: {}", certificate_error(e)),
        E::InvalidCertRevocationList(_) => "a certificate revocation list was refused".into(),
        E::General(text) => text.clone(),
        E::FailedToGetCurrentTime => "this machine's clock could not be read".into(),
        E::FailedToGetRandomBytes => "this machine gave no random bytes".into(),
        E::HandshakeNotComplete => "the handshake did not complete".into(),
        E::PeerSentOversizedRecord => "the peer sent a record larger than TLS allows".into(),
        E::NoApplicationProtocol => {
            "the peer speaks none of the application protocols offered (ALPN)".into()
        }
        E::BadMaxFragmentSize => "the maximum fragment size is out of range".into(),
        E::InconsistentKeys(_) => "the private key does not match its certificate".into(),
        E::Other(other) => match other.0.downcast_ref::<webpki::Error>() {
            Some(e) => webpki_error(e),
            None => other.0.to_string(),
        },
        _ => "the TLS library reported a failure it does not describe further".into(),
    }
}

/// Why a certificate was refused, in words.
pub fn certificate_error(error: &CertificateError) -> String {
    use CertificateError as C;
    #[expect(deprecated, reason = "older rustls-webpki versions still report it")]
    match error {
        C::BadEncoding => "it is not correctly encoded (DER)".into(),
        C::Expired | C::ExpiredContext { .. } => "it has expired".into(),
        C::NotValidYet | C::NotValidYetContext { .. } => "it is not valid yet".into(),
        C::Revoked => "it has been revoked".into(),
        C::UnhandledCriticalExtension => {
            "it carries a critical extension that cannot be processed".into()
        }
        C::UnknownIssuer => "its issuer is not trusted and not in the chain sent".into(),
        C::UnknownRevocationStatus => "its revocation status is unknown".into(),
        C::ExpiredRevocationList | C::ExpiredRevocationListContext { .. } => {
            "the revocation list for it has expired".into()
        }
        C::BadSignature => "its signature does not verify with its issuer's key".into(),
        C::UnsupportedSignatureAlgorithm => {
            "it is signed with an algorithm that is not accepted".into()
        }
        C::UnsupportedSignatureAlgorithmContext {
            signature_algorithm_id,
            ..
        } => format!(
            "it is signed with {}, which is not accepted",
            algorithm_identifier_name(signature_algorithm_id)
        ),
        C::UnsupportedSignatureAlgorithmForPublicKeyContext {
            signature_algorithm_id,
            public_key_algorithm_id,
        } => format!(
            "it is signed with {}, which its issuer's {} key cannot verify",
            algorithm_identifier_name(signature_algorithm_id),
            algorithm_identifier_name(public_key_algorithm_id)
        ),
        C::NotValidForName => "it is not valid for the name requested".into(),
        C::NotValidForNameContext {
            expected,
            presented,
        } => format!(
            "it is not valid for {}; it is valid for {}",
            expected.to_str(),
            if presented.is_empty() {
                "no names".to_string()
            } else {
                presented.join(", ")
            }
        ),
        C::InvalidPurpose => "it is not issued for this purpose (extended key usage)".into(),
        C::InvalidPurposeContext {
            required,
            presented,
        } => format!(
            "it is not issued for {} (extended key usage: {})",
            purpose(required),
            purposes(presented)
        ),
        C::InvalidOcspResponse => "its OCSP response is invalid".into(),
        C::ApplicationVerificationFailure => "the application's own checks refused it".into(),
        C::Other(other) => match other.0.downcast_ref::<webpki::Error>() {
            Some(e) => webpki_error(e),
            None => other.0.to_string(),
        },
        _ => "it failed a check the TLS library does not describe further".into(),
    }
}

/// An extended key usage purpose by name: serverAuth, clientAuth, or the OID.
pub fn purpose(p: &ExtendedKeyPurpose) -> String {
    match p {
        ExtendedKeyPurpose::ServerAuth => "serverAuth".into(),
        ExtendedKeyPurpose::ClientAuth => "clientAuth".into(),
        ExtendedKeyPurpose::Other(arcs) => {
            let dotted = arcs
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(".");
            eku_name(&dotted).map(str::to_string).unwrap_or(dotted)
        }
    }
}

/// Several purposes, or "none" when the list is empty.
pub(crate) fn purposes(list: &[ExtendedKeyPurpose]) -> String {
    if list.is_empty() {
        "none".into()
    } else {
        list.iter().map(purpose).collect::<Vec<_>>().join(", ")
    }
}

/// The usual name of an extended key usage OID.
pub(crate) fn eku_name(dotted: &str) -> Option<&'static str> {
    Some(match dotted {
        "1.3.6.1.5.5.7.3.1" => "serverAuth",
        "1.3.6.1.5.5.7.3.2" => "clientAuth",
        "1.3.6.1.5.5.7.3.3" => "codeSigning",
        "1.3.6.1.5.5.7.3.4" => "emailProtection",
        "1.3.6.1.5.5.7.3.8" => "timeStamping",
        "1.3.6.1.5.5.7.3.9" => "OCSPSigning",
        "2.5.29.37.0" => "anyExtendedKeyUsage",
        _ => return None,
    })
}

/// A rustls-webpki path-validation error in words.
pub(crate) fn webpki_error(error: &webpki::Error) -> String {
    use webpki::Error as W;
    #[expect(deprecated, reason = "older rustls-webpki versions still report them")]
    match error {
        W::BadDer | W::BadDerTime | W::TrailingData(_) => {
            "a certificate is not correctly encoded (DER)".into()
        }
        W::CaUsedAsEndEntity => {
            "a CA certificate is used as the end-entity (server or client) certificate".into()
        }
        W::CertDistrusted => "a certificate of the chain is explicitly distrusted".into(),
        W::CertExpired { .. } | W::InvalidCertValidity => "a certificate has expired".into(),
        W::CertNotValidForName(_) => "the certificate is not valid for the name requested".into(),
        W::CertNotValidYet { .. } => "a certificate is not valid yet".into(),
        W::CertRevoked => "a certificate has been revoked".into(),
        W::CrlExpired { .. } => "a revocation list has expired".into(),
        W::EmptyEkuExtension => "a certificate has an empty extended key usage".into(),
        W::EndEntityUsedAsCa => {
            "an end-entity certificate (CA:FALSE) is used as a CA to issue another".into()
        }
        W::ExtensionValueInvalid => "a certificate extension has an invalid value".into(),
        W::InvalidCrlNumber => "a revocation list has an invalid CRL number".into(),
        W::InvalidNetworkMaskConstraint => "a name constraint has an invalid network mask".into(),
        W::InvalidSerialNumber => "a certificate has an invalid serial number".into(),
        W::InvalidCrlSignatureForPublicKey => {
            "a revocation list's signature does not verify".into()
        }
        W::InvalidSignatureForPublicKey => {
            "a certificate's signature does not verify with its issuer's key".into()
        }
        W::IssuerNotCrlSigner => "a revocation list's issuer may not sign CRLs".into(),
        W::MalformedDnsIdentifier => "a certificate holds a malformed DNS name".into(),
        W::MalformedExtensions => "a certificate's extensions are malformed".into(),
        W::MalformedNameConstraint => "a CA's name constraints are malformed".into(),
        W::MaximumNameConstraintComparisonsExceeded
        | W::MaximumPathBuildCallsExceeded
        | W::MaximumSignatureChecksExceeded => {
            "the chain is too complex to validate (too many candidate paths)".into()
        }
        W::MaximumPathDepthExceeded => "the chain is longer than allowed".into(),
        W::NameConstraintViolation => {
            "the certificate's names are outside what its CA may issue (name constraints)".into()
        }
        W::PathLenConstraintViolated => {
            "the chain has more intermediates than a CA's path length allows".into()
        }
        W::RequiredEkuNotFound | W::RequiredEkuNotFoundContext(_) => {
            "the certificate is not issued for this purpose (extended key usage)".into()
        }
        W::SignatureAlgorithmMismatch => {
            "a certificate's two signature algorithm fields disagree".into()
        }
        W::UnknownIssuer => "the issuer is not trusted and not in the chain sent".into(),
        W::UnknownRevocationStatus => "the revocation status is unknown".into(),
        W::UnsupportedCertVersion => "a certificate is not X.509 version 3".into(),
        W::UnsupportedCriticalExtension => {
            "a certificate carries a critical extension that cannot be processed".into()
        }
        W::UnsupportedCrlIssuingDistributionPoint
        | W::UnsupportedCrlVersion
        | W::UnsupportedDeltaCrl
        | W::UnsupportedIndirectCrl
        | W::UnsupportedRevocationReason
        | W::UnsupportedRevocationReasonsPartitioning => {
            "a revocation list uses a feature that is not supported".into()
        }
        W::UnsupportedNameType => "the name is of a type that cannot be checked".into(),
        W::UnsupportedCrlSignatureAlgorithm
        | W::UnsupportedCrlSignatureAlgorithmContext(_)
        | W::UnsupportedCrlSignatureAlgorithmForPublicKey
        | W::UnsupportedCrlSignatureAlgorithmForPublicKeyContext(_) => {
            "a revocation list is signed with an algorithm that is not accepted".into()
        }
        W::UnsupportedSignatureAlgorithm | W::UnsupportedSignatureAlgorithmForPublicKey => {
            "a certificate is signed with an algorithm that is not accepted".into()
        }
        W::UnsupportedSignatureAlgorithmContext(cx) => format!(
            "a certificate is signed with {}, which is not accepted",
            algorithm_identifier_name(&cx.signature_algorithm_id)
        ),
        W::UnsupportedSignatureAlgorithmForPublicKeyContext(cx) => format!(
            "a certificate is signed with {}, which its issuer's {} key cannot verify",
            algorithm_identifier_name(&cx.signature_algorithm_id),
            algorithm_identifier_name(&cx.public_key_algorithm_id)
        ),
        _ => "the chain failed a check the validator does not describe further".into(),
    }
}

/// An alert as "name (number)" with what it usually means.
pub fn alert_words(alert: AlertDescription) -> String {
    let number = u8::from(alert);
    let name = crate::alert::alert_name(number);
    match alert_meaning(number) {
        Some(meaning) => format!("{name}: {meaning}"),
        None => name,
    }
}

/// What an alert usually means when a server sends it.
pub(crate) fn alert_meaning(number: u8) -> Option<&'static str> {
    Some(match number {
        10 => "the server received a message it did not expect",
        20 => "a record failed its integrity check",
        22 => "a record was too long",
        40 => "the server could not agree on the handshake's parameters",
        42 => "the server refused a certificate",
        43 => "the server does not support the type of certificate sent",
        44 => "the server says a certificate was revoked",
        45 => "the server says a certificate has expired",
        46 => "the server refused a certificate for an unspecified reason",
        47 => "the server refused a value in our handshake",
        48 => "the server does not know the CA of the certificate sent",
        49 => "the server denied access",
        50 => "the server could not decode a message",
        51 => "the server could not verify a signature or decrypt",
        70 => "the server does not speak the protocol version offered",
        71 => "the server wants stronger cipher suites",
        80 => "the server failed internally",
        86 => "the server detected a downgrade attempt",
        90 => "the server cancelled the handshake",
        109 => "the server needs an extension that was not sent",
        110 => "the server does not support an extension that was sent",
        112 => "the server does not serve the name sent in SNI",
        113 => "the server could not give a certificate status",
        115 => "the server does not know the pre-shared key identity",
        116 => "the server requires a client certificate",
        120 => "the server speaks none of the application protocols offered (ALPN)",
        _ => return None,
    })
}

fn content_type(value: u8) -> String {
    match value {
        20 => "change_cipher_spec".into(),
        21 => "alert".into(),
        22 => "handshake".into(),
        23 => "application_data".into(),
        24 => "heartbeat".into(),
        other => format!("type {other}"),
    }
}

fn handshake_type(value: u8) -> String {
    match value {
        0 => "hello_request".into(),
        1 => "client_hello".into(),
        2 => "server_hello".into(),
        4 => "new_session_ticket".into(),
        5 => "end_of_early_data".into(),
        8 => "encrypted_extensions".into(),
        11 => "certificate".into(),
        12 => "server_key_exchange".into(),
        13 => "certificate_request".into(),
        14 => "server_hello_done".into(),
        15 => "certificate_verify".into(),
        16 => "client_key_exchange".into(),
        20 => "finished".into(),
        22 => "certificate_status".into(),
        24 => "key_update".into(),
        25 => "compressed_certificate".into(),
        254 => "message_hash".into(),
        other => format!("type {other}"),
    }
}

fn invalid_message(m: &rustls::InvalidMessage) -> String {
    use rustls::InvalidMessage as M;
    match m {
        M::CertificatePayloadTooLarge => "a certificate message too large".into(),
        M::HandshakePayloadTooLarge => "a handshake message too large".into(),
        M::InvalidCcs => "an invalid change_cipher_spec".into(),
        M::InvalidContentType => "a record of an unknown type (not TLS)".into(),
        M::InvalidCertificateStatusType => "an unknown certificate status type".into(),
        M::InvalidCertRequest => "an invalid CertificateRequest".into(),
        M::InvalidDhParams => "invalid Diffie-Hellman parameters".into(),
        M::InvalidEmptyPayload => "an empty message where content is required".into(),
        M::InvalidKeyUpdate => "an invalid key update".into(),
        M::InvalidServerName => "an invalid server name".into(),
        M::MessageTooLarge => "a message too large".into(),
        M::MessageTooShort => "a message too short".into(),
        M::MissingData(what) => format!("a message missing its {what}"),
        M::MissingKeyExchange => "a handshake without its key exchange".into(),
        M::NoSignatureSchemes => "no signature schemes".into(),
        M::TrailingData(what) => format!("extra bytes after its {what}"),
        M::UnexpectedMessage(what) => format!("an unexpected {what}"),
        M::UnknownProtocolVersion => "an unknown protocol version".into(),
        M::UnsupportedCompression => "a compression method TLS no longer allows".into(),
        M::UnsupportedCurveType => "an unsupported elliptic-curve type".into(),
        M::UnsupportedKeyExchangeAlgorithm(_) => "an unsupported key exchange".into(),
        M::EmptyTicketValue => "an empty session ticket".into(),
        M::IllegalEmptyList(what) => format!("an empty list of {what}"),
        M::IllegalEmptyValue => "an empty value where one is required".into(),
        M::DuplicateExtension(id) => format!("extension {id} twice"),
        M::PreSharedKeyIsNotFinalExtension => "a pre-shared key extension not in last place".into(),
        M::UnknownHelloRetryRequestExtension => {
            "an unknown extension in a HelloRetryRequest".into()
        }
        M::UnknownCertificateExtension => "an unknown certificate extension".into(),
        _ => "a message that could not be decoded".into(),
    }
}

fn peer_incompatible(p: &rustls::PeerIncompatible) -> String {
    use rustls::PeerIncompatible as P;
    match p {
        P::EcPointsExtensionRequired
        | P::NamedGroupsExtensionRequired
        | P::KeyShareExtensionRequired
        | P::SignatureAlgorithmsExtensionRequired
        | P::SupportedVersionsExtensionRequired
        | P::ExtendedMasterSecretExtensionRequired => {
            "it left out an extension TLS requires".into()
        }
        P::IncorrectCertificateTypeExtension | P::UnsolicitedCertificateTypeExtension => {
            "it asked for a certificate type other than X.509".into()
        }
        P::NoCertificateRequestSignatureSchemesInCommon => {
            "it accepts no signature scheme the client key can make".into()
        }
        P::NoCipherSuitesInCommon => "no cipher suite in common".into(),
        P::NoEcPointFormatsInCommon | P::UncompressedEcPointsRequired => {
            "no elliptic-curve point format in common".into()
        }
        P::NoKxGroupsInCommon => "no key exchange group in common".into(),
        P::NoSignatureSchemesInCommon => "no signature scheme in common".into(),
        P::NullCompressionRequired => "it insists on compression, which TLS forbids".into(),
        P::ServerDoesNotSupportTls12Or13
        | P::ServerTlsVersionIsDisabledByOurConfig
        | P::Tls12NotOffered
        | P::Tls12NotOfferedOrEnabled
        | P::Tls13RequiredForQuic => "no protocol version in common".into(),
        P::ServerSentHelloRetryRequestWithUnknownExtension => {
            "it sent a HelloRetryRequest with an unknown extension".into()
        }
        P::ServerRejectedEncryptedClientHello(_) => {
            "it refused the encrypted ClientHello (ECH)".into()
        }
        _ => "it lacks a feature TLS needs here".into(),
    }
}

fn peer_misbehaved(p: &PeerMisbehaved) -> &'static str {
    use PeerMisbehaved as P;
    match p {
        P::AttemptedDowngradeToTls12WhenTls13IsSupported
        | P::SelectedTls12UsingTls13VersionExtension => {
            "signalled a downgrade from TLS 1.3 (a middlebox may be interfering)"
        }
        P::BadCertChainExtensions
        | P::UnsolicitedCertExtension
        | P::UnsolicitedSctList
        | P::InvalidCertCompression
        | P::SelectedUnofferedCertCompression
        | P::OfferedDuplicateCertificateCompressions => {
            "sent its certificate with extensions or compression it may not use"
        }
        P::CipherSuiteDifferedOnRetry
        | P::IllegalHelloRetryRequestWithEmptyCookie
        | P::IllegalHelloRetryRequestWithNoChanges
        | P::IllegalHelloRetryRequestWithOfferedGroup
        | P::IllegalHelloRetryRequestWithUnofferedCipherSuite
        | P::IllegalHelloRetryRequestWithUnofferedNamedGroup
        | P::IllegalHelloRetryRequestWithUnsupportedVersion
        | P::IllegalHelloRetryRequestWithWrongSessionId
        | P::IllegalHelloRetryRequestWithInvalidEch
        | P::RefusedToFollowHelloRetryRequest
        | P::SelectedDifferentCipherSuiteAfterRetry
        | P::HandshakeHashVariedAfterRetry
        | P::ServerNameDifferedOnRetry
        | P::EchAcceptanceVariedAfterRetry => "sent an invalid HelloRetryRequest",
        P::DisallowedEncryptedExtension
        | P::DuplicateClientHelloExtensions
        | P::DuplicateEncryptedExtensions
        | P::DuplicateHelloRetryRequestExtensions
        | P::DuplicateNewSessionTicketExtensions
        | P::DuplicateServerHelloExtensions
        | P::DuplicateServerNameTypes
        | P::UnexpectedCleartextExtension
        | P::UnsolicitedEncryptedExtension
        | P::UnsolicitedServerHelloExtension
        | P::UnsolicitedEchExtension
        | P::ServerNameMustContainOneHostName => {
            "sent duplicate, unasked-for or misplaced extensions"
        }
        P::EarlyDataAttemptedInSecondClientHello
        | P::EarlyDataExtensionWithoutResumption
        | P::EarlyDataOfferedWithVariedCipherSuite
        | P::OfferedEarlyDataWithOldProtocolVersion
        | P::RejectedEarlyDataInterleavedWithHandshakeMessage
        | P::TooMuchEarlyDataReceived
        | P::InvalidMaxEarlyDataSize => "misused early data (0-RTT)",
        P::IncorrectBinder
        | P::MissingBinderInPskExtension
        | P::MissingPskModesExtension
        | P::MissingPskExtensionInSecondClientHello
        | P::PskExtensionMustBeLast
        | P::PskExtensionWithMismatchedIdsAndBinders
        | P::ResumptionAttemptedWithVariedEms
        | P::ResumptionOfferedWithVariedCipherSuite
        | P::ResumptionOfferedWithVariedEms
        | P::ResumptionOfferedWithIncompatibleCipherSuite
        | P::SelectedInvalidPsk
        | P::SelectedUnofferedPsk => "misused session resumption (pre-shared keys)",
        P::IllegalMiddleboxChangeCipherSpec
        | P::IllegalTlsInnerPlaintext
        | P::KeyEpochWithPendingFragment
        | P::MessageInterleavedWithHandshakeMessage
        | P::TooManyEmptyFragments
        | P::TooManyWarningAlertsReceived => "sent records in an order or form TLS forbids",
        P::InvalidKeyShare | P::MissingKeyShare | P::WrongGroupForKeyShare => {
            "sent an invalid key share"
        }
        P::KeyUpdateReceivedInQuicConnection
        | P::TooManyKeyUpdateRequests
        | P::TooManyRenegotiationRequests => "asked for too many key updates or renegotiations",
        P::MissingQuicTransportParameters => "left out QUIC transport parameters",
        P::OfferedDuplicateKeyShares
        | P::OfferedEmptyApplicationProtocol
        | P::OfferedIncorrectCompressions => "offered invalid handshake parameters",
        P::SelectedUnofferedApplicationProtocol
        | P::SelectedUnofferedCipherSuite
        | P::SelectedUnofferedCompression
        | P::SelectedUnofferedKxGroup
        | P::SelectedUnusableCipherSuiteForVersion
        | P::ServerEchoedCompatibilitySessionId
        | P::ServerHelloMustOfferUncompressedEcPoints => "chose a parameter that was not offered",
        P::SignedKxWithWrongAlgorithm | P::SignedHandshakeWithUnadvertisedSigScheme => {
            "signed the handshake with an algorithm that was not offered"
        }
        _ => "did something TLS forbids",
    }
}

/// The name of a signature or key algorithm, from the DER content of its
/// AlgorithmIdentifier (as rustls-webpki reports it: the OID and its parameters, without
/// the outer SEQUENCE).
pub(crate) fn algorithm_identifier_name(der: &[u8]) -> String {
    let Some((rest, oid)) = oid_at(der) else {
        return "an algorithm that cannot be named".into();
    };
    // An EC key names its curve in the parameters.
    match oid_at(rest) {
        Some((_, curve)) => format!("{} on {}", algorithm_name(&oid), curve_name(&curve)),
        None => algorithm_name(&oid),
    }
}

/// The OID at the start of `bytes` (DER), and what follows it.
fn oid_at(bytes: &[u8]) -> Option<(&[u8], Oid<'static>)> {
    use x509_parser::der_parser::ber::parse_ber_oid;
    let (rest, object) = parse_ber_oid(bytes).ok()?;
    Some((rest, object.as_oid_val().ok()?.to_owned()))
}

/// The usual name of an elliptic curve OID, with the OID.
pub(crate) fn curve_name(oid: &Oid<'_>) -> String {
    let dotted = oid.to_id_string();
    let name = match dotted.as_str() {
        "1.2.840.10045.3.1.7" => "P-256",
        "1.3.132.0.34" => "P-384",
        "1.3.132.0.35" => "P-521",
        "1.3.132.0.10" => "secp256k1",
        "1.3.36.3.3.2.8.1.1.7" => "brainpoolP256r1",
        "1.3.36.3.3.2.8.1.1.11" => "brainpoolP384r1",
        "1.3.36.3.3.2.8.1.1.13" => "brainpoolP512r1",
        _ => return format!("the curve {dotted}"),
    };
    format!("{name} ({dotted})")
}

/// The usual name of a signature or key algorithm OID, with the OID.
pub(crate) fn algorithm_name(oid: &Oid<'_>) -> String {
    let dotted = oid.to_id_string();
    let name = match dotted.as_str() {
        "1.2.840.113549.1.1.1" => "rsaEncryption",
        "1.2.840.113549.1.1.2" => "md2WithRSAEncryption",
        "1.2.840.113549.1.1.4" => "md5WithRSAEncryption",
        "1.2.840.113549.1.1.5" => "sha1WithRSAEncryption",
        "1.2.840.113549.1.1.10" => "RSASSA-PSS",
        "1.2.840.113549.1.1.11" => "sha256WithRSAEncryption",
        "1.2.840.113549.1.1.12" => "sha384WithRSAEncryption",
        "1.2.840.113549.1.1.13" => "sha512WithRSAEncryption",
        "1.2.840.113549.1.1.14" => "sha224WithRSAEncryption",
        "1.3.14.3.2.29" => "sha1WithRSA (OIW)",
        "1.2.840.10045.2.1" => "id-ecPublicKey",
        "1.2.840.10045.4.1" => "ecdsa-with-SHA1",
        "1.2.840.10045.4.3.1" => "ecdsa-with-SHA224",
        "1.2.840.10045.4.3.2" => "ecdsa-with-SHA256",
        "1.2.840.10045.4.3.3" => "ecdsa-with-SHA384",
        "1.2.840.10045.4.3.4" => "ecdsa-with-SHA512",
        "1.2.840.10040.4.1" => "DSA",
        "1.2.840.10040.4.3" => "dsa-with-SHA1",
        "2.16.840.1.101.3.4.3.2" => "dsa-with-SHA256",
        "1.3.101.112" => "Ed25519",
        "1.3.101.113" => "Ed448",
        _ => return format!("the algorithm {dotted}"),
    };
    format!("{name} ({dotted})")
}

/// Why an algorithm is refused, when the reason is its weakness.
pub(crate) fn weakness(oid: &Oid<'_>) -> Option<&'static str> {
    Some(match oid.to_id_string().as_str() {
        "1.2.840.113549.1.1.5" | "1.3.14.3.2.29" | "1.2.840.10045.4.1" | "1.2.840.10040.4.3" => {
            "SHA-1 signatures can be forged (a chosen-prefix collision costs little since 2020); browsers, Java and rustls no longer accept them on certificates"
        }
        "1.2.840.113549.1.1.4" | "1.2.840.113549.1.1.2" => {
            "MD5 and MD2 signatures have been forgeable for years (a rogue CA was made from an MD5 collision in 2008)"
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sha1_identifier_from_the_field_report_is_named() {
        // The bytes a user saw in a Debug dump: OID sha1WithRSAEncryption and NULL.
        let der = [6, 9, 42, 134, 72, 134, 247, 13, 1, 1, 5, 5, 0];
        assert_eq!(
            algorithm_identifier_name(&der),
            "sha1WithRSAEncryption (1.2.840.113549.1.1.5)"
        );
        let error = CertificateError::UnsupportedSignatureAlgorithmContext {
            signature_algorithm_id: der.to_vec(),
            supported_algorithms: Vec::new(),
        };
        let words = rustls_error(&rustls::Error::InvalidCertificate(error));
        assert!(words.contains("sha1WithRSAEncryption"), "{words}");
        assert!(!words.contains('['), "{words}");
    }

    #[test]
    fn purposes_by_name() {
        let presented = vec![
            ExtendedKeyPurpose::ClientAuth,
            ExtendedKeyPurpose::Other(vec![1, 3, 6, 1, 5, 5, 7, 3, 4]),
        ];
        assert_eq!(purposes(&presented), "clientAuth, emailProtection");
        assert_eq!(purposes(&[]), "none");
    }

    #[test]
    fn alerts_say_what_they_mean() {
        assert_eq!(
            alert_words(AlertDescription::UnrecognisedName),
            "unrecognized_name (112): the server does not serve the name sent in SNI"
        );
    }
}
