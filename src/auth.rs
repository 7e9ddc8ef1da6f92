//! Inbound authentication: `Authorization: Bearer <token>` checked against SHA-256 digests of the
//! accepted tokens (several, for rotation) in constant time, optionally accepting the bare token
//! without `Bearer ` (some admins paste it that way into Okta).

use crate::config::{AuthSettings, token_digest};
use subtle::ConstantTimeEq;

/// Checks presented credentials. Built once at start-up.
#[derive(Debug, Clone)]
pub struct TokenVerifier {
    digests: Vec<[u8; 32]>,
    accept_bare: bool,
}

impl TokenVerifier {
    pub fn new(settings: &AuthSettings) -> TokenVerifier {
        TokenVerifier {
            digests: settings.token_hashes.clone(),
            accept_bare: settings.accept_bare_token,
        }
    }

    /// Whether an `Authorization` header value carries an accepted token.
    ///
    /// The presented token is hashed first, so the comparison always covers 32 bytes whatever
    /// its length, and every stored digest is compared (no early exit): timing reveals neither
    /// which token matched nor how much of one did.
    pub fn verify(&self, header: Option<&[u8]>) -> bool {
        let Some(raw) = header else { return false };
        let Ok(text) = std::str::from_utf8(raw) else {
            return false;
        };
        let text = text.trim();
        let token = match text.split_once(' ') {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim(),
            _ if self.accept_bare && !text.contains(' ') => text,
            _ => return false,
        };
        if token.is_empty() {
            return false;
        }
        let presented = token_digest(token);
        let mut ok = subtle::Choice::from(0u8);
        for d in &self.digests {
            ok |= d.ct_eq(&presented);
        }
        ok.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verifier(bare: bool) -> TokenVerifier {
        TokenVerifier::new(&AuthSettings {
            token_hashes: vec![
                token_digest("old-token-0123456789"),
                token_digest("new-token-0123456789"),
            ],
            accept_bare_token: bare,
        })
    }

    #[test]
    fn bearer_tokens_and_rotation() {
        let v = verifier(false);
        assert!(v.verify(Some(b"Bearer old-token-0123456789")));
        assert!(v.verify(Some(b"bearer new-token-0123456789")));
        assert!(v.verify(Some(b"BEARER  new-token-0123456789 ")));
        assert!(!v.verify(Some(b"Bearer wrong-token-012345678")));
        assert!(!v.verify(Some(b"Bearer ")));
        assert!(!v.verify(Some(b"Basic b2xkLXRva2Vu")));
        assert!(!v.verify(None));
        assert!(!v.verify(Some(&[0xff, 0xfe])));
    }

    #[test]
    fn bare_tokens_only_when_enabled() {
        assert!(!verifier(false).verify(Some(b"old-token-0123456789")));
        assert!(verifier(true).verify(Some(b"old-token-0123456789")));
        assert!(verifier(true).verify(Some(b"Bearer old-token-0123456789")));
        assert!(!verifier(true).verify(Some(b"nope")));
    }
}
