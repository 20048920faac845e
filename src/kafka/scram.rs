//! The client side of SASL SCRAM (RFC 5802, SHA-256 and SHA-512 as Kafka names them), for
//! `wire`'s connections to SASL clusters: pure message building and checking; the exchange
//! itself (SaslHandshake, SaslAuthenticate) is in `wire`.

use openssl::base64;
use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::sign::Signer;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mechanism {
    Sha256,
    Sha512,
}

impl Mechanism {
    /// From librdkafka's `sasl.mechanism` value; None for the mechanisms not spoken here.
    pub fn parse(name: &str) -> Option<Mechanism> {
        match name.to_ascii_uppercase().as_str() {
            "SCRAM-SHA-256" => Some(Mechanism::Sha256),
            "SCRAM-SHA-512" => Some(Mechanism::Sha512),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Mechanism::Sha256 => "SCRAM-SHA-256",
            Mechanism::Sha512 => "SCRAM-SHA-512",
        }
    }

    fn digest(self) -> MessageDigest {
        match self {
            Mechanism::Sha256 => MessageDigest::sha256(),
            Mechanism::Sha512 => MessageDigest::sha512(),
        }
    }
}

/// One SCRAM exchange: `first`, then `answer` the server's first message, then `verify` its
/// final one (the server proves it knows the password too).
pub struct Exchange {
    mechanism: Mechanism,
    password: String,
    client_first_bare: String,
    nonce: String,
    server_signature: Option<Vec<u8>>,
}

impl Exchange {
    /// `nonce`: printable, without commas (random in use; fixed in the RFC's test vector).
    pub fn new(mechanism: Mechanism, username: &str, password: &str, nonce: &str) -> Exchange {
        // RFC 5802: "=" and "," in a name are escaped.
        let name = username.replace('=', "=3D").replace(',', "=2C");
        Exchange {
            mechanism,
            password: password.to_string(),
            client_first_bare: format!("n={name},r={nonce}"),
            nonce: nonce.to_string(),
            server_signature: None,
        }
    }

    /// A random nonce: 24 random bytes in base64.
    pub fn random_nonce() -> crate::error::Result<String> {
        let mut bytes = [0u8; 24];
        openssl::rand::rand_bytes(&mut bytes).map_err(|e| format!("no random nonce: {e}"))?;
        Ok(base64::encode_block(&bytes))
    }

    /// The client's first message (no channel binding, no authorization id).
    pub fn first(&self) -> String {
        format!("n,,{}", self.client_first_bare)
    }

    /// The client's final message, with its proof, for the server's first message.
    pub fn answer(&mut self, server_first: &str) -> crate::error::Result<String> {
        let field = |key: &str| {
            server_first
                .split(',')
                .find_map(|f| f.strip_prefix(key))
                .ok_or_else(|| format!("the server's first message has no {key}"))
        };
        if let Some(error) = server_first.strip_prefix("e=") {
            return Err(format!("the broker refused: {error}").into());
        }
        let nonce = field("r=")?;
        if !nonce.starts_with(&self.nonce) || nonce.len() == self.nonce.len() {
            return Err("the server's nonce does not extend ours".into());
        }
        let salt = base64::decode_block(field("s=")?).map_err(|e| format!("salt not base64: {e}"))?;
        let iterations: usize = field("i=")?
            .parse()
            .map_err(|_| "iteration count not a number".to_string())?;
        let md = self.mechanism.digest();
        let mut salted = vec![0u8; md.size()];
        openssl::pkcs5::pbkdf2_hmac(self.password.as_bytes(), &salt, iterations, md, &mut salted)
            .map_err(|e| e.to_string())?;
        let client_key = self.hmac(&salted, b"Client Key")?;
        let stored_key = openssl::hash::hash(md, &client_key).map_err(|e| e.to_string())?;
        let without_proof = format!("c=biws,r={nonce}");
        let auth_message = format!("{},{server_first},{without_proof}", self.client_first_bare);
        let signature = self.hmac(&stored_key, auth_message.as_bytes())?;
        let proof: Vec<u8> = client_key.iter().zip(&signature).map(|(k, s)| k ^ s).collect();
        let server_key = self.hmac(&salted, b"Server Key")?;
        self.server_signature = Some(self.hmac(&server_key, auth_message.as_bytes())?);
        Ok(format!("{without_proof},p={}", base64::encode_block(&proof)))
    }

    /// Checks the server's final message: its signature, or the error it sent.
    pub fn verify(&self, server_final: &str) -> crate::error::Result<()> {
        if let Some(error) = server_final.strip_prefix("e=") {
            return Err(format!("the broker refused: {error}").into());
        }
        let expected = self.server_signature.as_ref().ok_or("no answer was sent")?;
        let given = server_final
            .strip_prefix("v=")
            .and_then(|v| base64::decode_block(v.split(',').next().unwrap_or(v)).ok())
            .ok_or("the server's final message has no signature")?;
        if openssl::memcmp::eq(expected, &given) {
            Ok(())
        } else {
            Err("the server's signature is wrong (it does not know the password)".into())
        }
    }

    fn hmac(&self, key: &[u8], data: &[u8]) -> crate::error::Result<Vec<u8>> {
        let key = PKey::hmac(key).map_err(|e| e.to_string())?;
        let mut signer = Signer::new(self.mechanism.digest(), &key).map_err(|e| e.to_string())?;
        signer.update(data).map_err(|e| e.to_string())?;
        signer.sign_to_vec().map_err(|e| e.to_string().into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7677's SCRAM-SHA-256 example, message by message.
    #[test]
    fn rfc_7677s_exchange() {
        let mut x = Exchange::new(Mechanism::Sha256, "user", "pencil", "rOprNGfwEbeRWgbNEkqO");
        assert_eq!(x.first(), "n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
        let server_first = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
        assert_eq!(
            x.answer(server_first).unwrap(),
            "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
        );
        assert_eq!(x.verify("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="), Ok(()));
        assert!(x
            .verify("v=AAAATRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")
            .unwrap_err()
            .message
            .contains("wrong"));
        assert!(x
            .verify("e=invalid-proof")
            .unwrap_err()
            .message
            .contains("invalid-proof"));
    }

    #[test]
    fn a_server_that_does_not_extend_our_nonce_or_leaves_a_field_out_is_refused() {
        let mut x = Exchange::new(Mechanism::Sha512, "a=b,c", "p", "abc");
        assert_eq!(x.first(), "n,,n=a=3Db=2Cc,r=abc");
        assert!(x
            .answer("r=xyz123,s=AAAA,i=4096")
            .unwrap_err()
            .message
            .contains("nonce"));
        assert!(x.answer("r=abc,s=AAAA,i=4096").unwrap_err().message.contains("nonce"));
        assert!(x.answer("r=abcdef,i=4096").unwrap_err().message.contains("s="));
        assert!(x
            .answer("r=abcdef,s=AAAA,i=many")
            .unwrap_err()
            .message
            .contains("iteration"));
        assert!(x.verify("v=AAAA").unwrap_err().message.contains("no answer"));
        assert_eq!(Mechanism::parse("scram-sha-512"), Some(Mechanism::Sha512));
        assert_eq!(Mechanism::parse("PLAIN"), None);
    }
}
