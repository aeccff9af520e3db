//! Unit tests' signer: signs with a committed TEST key from `vectors/test-keys/` (never a real
//! key). The full test-trail generator is the dev-only `ctverify-testgen` crate, which unit tests
//! inside this crate cannot use (it links its own copy of `ctverify`, whose types differ).

use std::path::Path;

use rsa::pkcs1::{DecodeRsaPrivateKey as _, EncodeRsaPublicKey as _};
use rsa::pkcs8::DecodePrivateKey as _;
use rsa::signature::{SignatureEncoding as _, Signer as _};

use crate::hash::Fingerprint;

pub(crate) struct TestSigner {
    key: rsa::RsaPrivateKey,
    public_der: Vec<u8>,
}

impl TestSigner {
    /// `vectors/test-keys/TEST-KEY-DO-NOT-TRUST-{name}.pem`.
    pub(crate) fn committed(name: &str) -> TestSigner {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!(
            "vectors/test-keys/TEST-KEY-DO-NOT-TRUST-{name}.pem"
        ));
        let pem = std::fs::read_to_string(&path).expect("the committed test key");
        let key = rsa::RsaPrivateKey::from_pkcs1_pem(&pem)
            .or_else(|_| rsa::RsaPrivateKey::from_pkcs8_pem(&pem))
            .expect("an RSA private key PEM");
        let public_der = key
            .to_public_key()
            .to_pkcs1_der()
            .expect("an encodable public key")
            .as_bytes()
            .to_vec();
        TestSigner { key, public_der }
    }

    pub(crate) fn fingerprint(&self) -> Fingerprint {
        Fingerprint::of_der(&self.public_der)
    }

    /// PKCS#1 `RSAPublicKey` DER, as ListPublicKeys serves it.
    pub(crate) fn public_der(&self) -> &[u8] {
        &self.public_der
    }

    /// Hex RSA PKCS#1 v1.5 SHA-256 signature, as S3 metadata carries it.
    pub(crate) fn sign(&self, message: &[u8]) -> String {
        let signer = rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new(self.key.clone());
        hex::encode(signer.sign(message).to_bytes())
    }
}
