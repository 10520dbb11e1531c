//! Result signatures: BIP-340 Schnorr signatures by the runner key over
//! the canonical JSON of a result.
//!
//! To sign a result (any JSON object with a `runner_npub` field):
//!
//! 1. Remove the `signature` field, if any.
//! 2. Serialize the rest as canonical JSON (RFC 8785, the JSON
//!    Canonicalization Scheme: object keys sorted by UTF-16 code units, no
//!    whitespace, ECMAScript number formatting). Every other field, nested
//!    ones included, is part of these bytes.
//! 3. Hash the bytes with SHA-256.
//! 4. Sign the 32-byte hash with BIP-340 Schnorr and the runner's secret
//!    key, and store the 64-byte signature as 128 lowercase hex characters
//!    in `signature`.
//!
//! Verification repeats steps 1 to 3 on the document as read and checks
//! the signature against the x-only public key encoded in the document's
//! own `runner_npub`. A verified document therefore proves that the holder
//! of that npub's key signed exactly these fields. Whether that npub is a
//! runner to trust is the reader's decision.
//!
//! BIP-340 signing mixes in 32 bytes of auxiliary random data, so signing
//! the same document twice gives different signatures that both verify.
//! [`sign_value_with_aux`] takes fixed auxiliary data for test vectors.
//!
//! ```
//! use ci_core::Keys;
//! use ci_core::signing::{VerifyError, npub_of, sign_value, verify_value};
//!
//! let keys = Keys::generate();
//! let mut result = serde_json::json!({
//!     "runner_npub": npub_of(&keys),
//!     "status": "success",
//! });
//! sign_value(&mut result, &keys).unwrap();
//! assert_eq!(verify_value(&result), Ok(()));
//!
//! result["status"] = "failure".into();
//! assert!(matches!(verify_value(&result), Err(VerifyError::Mismatch { .. })));
//! ```

use nostr::key::{Keys, PublicKey};
use nostr::nips::nip19::{FromBech32, ToBech32};
use secp256k1::{Secp256k1, schnorr};
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// Name of the field that carries the signature.
pub const SIGNATURE_FIELD: &str = "signature";

/// Name of the field that names the signing key.
pub const RUNNER_NPUB_FIELD: &str = "runner_npub";

/// Errors from signing a result.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignError {
    /// The result did not serialize to a JSON object.
    #[error("cannot sign a result that is not a JSON object (found {found})")]
    NotAnObject {
        /// JSON type that was found instead.
        found: &'static str,
    },

    /// The result names no signing key.
    #[error("cannot sign a result without a string field runner_npub: set it to the runner's npub")]
    MissingRunnerNpub,

    /// The result names a different key than the one signing it, so the
    /// signature would never verify.
    #[error(
        "cannot sign a result whose runner_npub is {in_document} with the key of {signer}: \
         set runner_npub to the signing runner's npub"
    )]
    WrongRunnerNpub {
        /// `runner_npub` found in the result.
        in_document: String,
        /// npub of the signing key.
        signer: String,
    },

    /// The result could not be serialized.
    #[error("cannot serialize the result for signing: {0}")]
    Serialize(String),
}

/// Reasons a signature does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// The document is not a JSON object.
    #[error("not a signed result: expected a JSON object, found {found}")]
    NotAnObject {
        /// JSON type that was found instead.
        found: &'static str,
    },

    /// No `signature` field.
    #[error("missing signature: the result has no \"signature\" field")]
    MissingSignature,

    /// `signature` is not 128 lowercase hex characters.
    #[error("bad signature hex: expected 128 lowercase hex characters, {reason}")]
    BadSignatureHex {
        /// Description of the problem.
        reason: String,
    },

    /// No usable `runner_npub` field.
    #[error("missing runner_npub: the result does not name the key that signed it")]
    MissingRunnerNpub,

    /// `runner_npub` is not a valid NIP-19 npub.
    #[error("npub invalid: runner_npub {npub:?} is not a valid NIP-19 npub ({reason})")]
    InvalidNpub {
        /// The value found.
        npub: String,
        /// Parser message.
        reason: String,
    },

    /// The signature is well formed but was not made by `runner_npub`'s key
    /// over this content.
    #[error(
        "signature does not match the content: the result was changed after signing, \
         or was not signed by {npub}"
    )]
    Mismatch {
        /// The `runner_npub` of the document.
        npub: String,
    },

    /// The document could not be canonicalized.
    #[error("cannot canonicalize the result: {0}")]
    Canonicalize(String),
}

/// Returns the RFC 8785 canonical JSON bytes of `value` without its
/// `signature` field: the bytes whose SHA-256 is signed.
pub fn canonical_bytes(value: &Value) -> Result<Vec<u8>, serde_json::Error> {
    match value {
        Value::Object(map) if map.contains_key(SIGNATURE_FIELD) => {
            let mut unsigned = map.clone();
            unsigned.remove(SIGNATURE_FIELD);
            serde_json_canonicalizer::to_vec(&unsigned)
        }
        _ => serde_json_canonicalizer::to_vec(value),
    }
}

/// Returns the SHA-256 of [`canonical_bytes`], the message that is signed.
pub fn signing_digest(value: &Value) -> Result<[u8; 32], serde_json::Error> {
    let bytes = canonical_bytes(value)?;
    Ok(Sha256::digest(&bytes).into())
}

/// Signs a result in place: sets `signature` to a BIP-340 signature by
/// `keys` over every other field.
///
/// The result must be a JSON object whose `runner_npub` is the npub of
/// `keys`, so that the signature verifies against the document itself.
pub fn sign_value(value: &mut Value, keys: &Keys) -> Result<(), SignError> {
    let digest = prepare_signing(value, keys)?;
    let signature = keys.sign_schnorr(digest);
    store_signature(value, signature.to_hex());
    Ok(())
}

/// Signs like [`sign_value`] with caller-given BIP-340 auxiliary data
/// instead of random bytes, which makes the signature reproducible.
///
/// For test vectors. Production signing uses [`sign_value`], as BIP-340
/// recommends fresh auxiliary randomness against side channels.
pub fn sign_value_with_aux(
    value: &mut Value,
    keys: &Keys,
    aux: &[u8; 32],
) -> Result<(), SignError> {
    let digest = prepare_signing(value, keys)?;
    let secp = Secp256k1::signing_only();
    let signature = keys.sign_schnorr_with_aux_rand(&secp, digest, aux);
    store_signature(value, signature.to_hex());
    Ok(())
}

/// Serializes `result`, signs it and returns the signed JSON.
pub fn sign_serializable<T: Serialize>(result: &T, keys: &Keys) -> Result<Value, SignError> {
    let mut value =
        serde_json::to_value(result).map_err(|error| SignError::Serialize(error.to_string()))?;
    sign_value(&mut value, keys)?;
    Ok(value)
}

/// Returns the signature that [`sign_serializable`] would store.
pub(crate) fn signature_of<T: Serialize>(result: &T, keys: &Keys) -> Result<String, SignError> {
    let signed = sign_serializable(result, keys)?;
    match signed.get(SIGNATURE_FIELD) {
        Some(Value::String(signature)) => Ok(signature.clone()),
        _ => Err(SignError::Serialize("signature was not stored".to_string())),
    }
}

/// Verifies a signed result against the key named by its own
/// `runner_npub`.
///
/// Verify the JSON exactly as read from a file: converting it to a Rust
/// struct first would drop fields this version does not know and break
/// the signature of a document written by a newer runner.
pub fn verify_value(value: &Value) -> Result<(), VerifyError> {
    let map = value.as_object().ok_or(VerifyError::NotAnObject {
        found: json_type(value),
    })?;
    let signature = parse_signature(map.get(SIGNATURE_FIELD))?;
    let npub = match map.get(RUNNER_NPUB_FIELD) {
        Some(Value::String(npub)) => npub,
        _ => return Err(VerifyError::MissingRunnerNpub),
    };
    let public_key = parse_npub(npub).map_err(|reason| VerifyError::InvalidNpub {
        npub: npub.clone(),
        reason,
    })?;
    let xonly = public_key
        .xonly()
        .map_err(|error| VerifyError::InvalidNpub {
            npub: npub.clone(),
            reason: error.to_string(),
        })?;

    let digest =
        signing_digest(value).map_err(|error| VerifyError::Canonicalize(error.to_string()))?;
    Secp256k1::verification_only()
        .verify_schnorr(&signature, &digest, &xonly)
        .map_err(|_| VerifyError::Mismatch { npub: npub.clone() })
}

/// Serializes `result` and verifies it with [`verify_value`].
pub fn verify_serializable<T: Serialize>(result: &T) -> Result<(), VerifyError> {
    let value = serde_json::to_value(result)
        .map_err(|error| VerifyError::Canonicalize(error.to_string()))?;
    verify_value(&value)
}

/// Returns the NIP-19 `npub` of `keys`.
pub fn npub_of(keys: &Keys) -> String {
    to_npub(&keys.public_key())
}

/// Encodes a public key as NIP-19 `npub`.
pub fn to_npub(public_key: &PublicKey) -> String {
    // Bech32 encoding fails only for an over-long payload, and a 32-byte
    // key is far below the limit. The hex fallback avoids a panic.
    public_key
        .to_bech32()
        .unwrap_or_else(|_| public_key.to_hex())
}

/// Parses a NIP-19 `npub`, returning the reason as text when it is invalid.
/// Hex public keys are not accepted: results always name the npub.
pub fn parse_npub(npub: &str) -> Result<PublicKey, String> {
    if !npub.starts_with("npub1") {
        return Err("expected a bech32 string starting with npub1".to_string());
    }
    PublicKey::from_bech32(npub).map_err(|error| error.to_string())
}

fn prepare_signing(value: &mut Value, keys: &Keys) -> Result<[u8; 32], SignError> {
    let signer = npub_of(keys);
    let found = json_type(value);
    let map = value
        .as_object_mut()
        .ok_or(SignError::NotAnObject { found })?;
    match map.get(RUNNER_NPUB_FIELD) {
        Some(Value::String(npub)) if *npub == signer => {}
        Some(Value::String(npub)) => {
            return Err(SignError::WrongRunnerNpub {
                in_document: npub.clone(),
                signer,
            });
        }
        _ => return Err(SignError::MissingRunnerNpub),
    }
    map.remove(SIGNATURE_FIELD);

    signing_digest(value).map_err(|error| SignError::Serialize(error.to_string()))
}

fn store_signature(value: &mut Value, signature: String) {
    if let Value::Object(map) = value {
        map.insert(SIGNATURE_FIELD.to_string(), Value::String(signature));
    }
}

fn parse_signature(field: Option<&Value>) -> Result<schnorr::Signature, VerifyError> {
    let text = match field {
        None | Some(Value::Null) => return Err(VerifyError::MissingSignature),
        Some(Value::String(text)) => text,
        Some(other) => {
            return Err(VerifyError::BadSignatureHex {
                reason: format!("found {}", json_type(other)),
            });
        }
    };
    if text.len() != 128 {
        return Err(VerifyError::BadSignatureHex {
            reason: format!("found {} characters", text.len()),
        });
    }
    if let Some(bad) = text.chars().find(|c| !matches!(c, '0'..='9' | 'a'..='f')) {
        return Err(VerifyError::BadSignatureHex {
            reason: format!("found the character {bad:?}"),
        });
    }

    let mut bytes = [0u8; 64];
    hex::decode_to_slice(text, &mut bytes).map_err(|error| VerifyError::BadSignatureHex {
        reason: error.to_string(),
    })?;
    Ok(schnorr::Signature::from_byte_array(bytes))
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// A fixed test key; never use it for anything real.
    const TEST_SECRET_HEX: &str =
        "0000000000000000000000000000000000000000000000000000000000000003";

    fn test_keys() -> Keys {
        Keys::parse(TEST_SECRET_HEX).unwrap()
    }

    fn other_keys() -> Keys {
        Keys::parse("0000000000000000000000000000000000000000000000000000000000000007").unwrap()
    }

    fn fixed_result(keys: &Keys) -> Value {
        json!({
            "status": "failure",
            "runner_npub": npub_of(keys),
            "job_id": "test",
            "steps": [
                {"name": "Run tests", "status": "failure", "exit_code": 1,
                 "duration_secs": 2.5, "logs_hash": "00"}
            ],
            "commit": "0123456789abcdef0123456789abcdef01234567",
            "matrix": null,
            "signature": "to be replaced"
        })
    }

    #[test]
    fn canonical_bytes_are_rfc8785() {
        let keys = test_keys();
        let bytes = canonical_bytes(&fixed_result(&keys)).unwrap();
        let expected = format!(
            "{{\"commit\":\"0123456789abcdef0123456789abcdef01234567\",\"job_id\":\"test\",\
             \"matrix\":null,\"runner_npub\":\"{}\",\"status\":\"failure\",\
             \"steps\":[{{\"duration_secs\":2.5,\"exit_code\":1,\"logs_hash\":\"00\",\
             \"name\":\"Run tests\",\"status\":\"failure\"}}]}}",
            npub_of(&keys)
        );
        assert_eq!(String::from_utf8(bytes).unwrap(), expected);
    }

    #[test]
    fn signing_digest_is_sha256_of_canonical_bytes() {
        let value = fixed_result(&test_keys());
        let digest = signing_digest(&value).unwrap();
        let expected: [u8; 32] = Sha256::digest(canonical_bytes(&value).unwrap()).into();
        assert_eq!(digest, expected);
    }

    #[test]
    fn canonical_numbers_use_ecmascript_form() {
        let value = json!({"a": 1.0, "b": 1e21, "c": 0.000001, "d": -0.0});
        let bytes = canonical_bytes(&value).unwrap();
        assert_eq!(
            String::from_utf8(bytes).unwrap(),
            r#"{"a":1,"b":1e+21,"c":0.000001,"d":0}"#
        );
    }

    #[test]
    fn test_key_npub_vector() {
        // Public key of secret 3 is the x coordinate of 3G on secp256k1.
        assert_eq!(
            test_keys().public_key().to_hex(),
            "f9308a019258c31049344f85f89d5229b531c845836f99b08601f113bce036f9"
        );
    }

    #[test]
    fn fixed_aux_signature_vector() {
        let keys = test_keys();
        let mut value = fixed_result(&keys);
        sign_value_with_aux(&mut value, &keys, &[0u8; 32]).unwrap();
        let signature = value[SIGNATURE_FIELD].as_str().unwrap().to_string();
        assert_eq!(
            signature,
            "e4c019f967e1d057c03e8cff89ab718e562e41445b4933a20731c4a2a1421c1f\
             6239750bb7d14bc4610663ead5a53a9ab224ca7594bee7deefbe8dbf9f77b819"
        );
        assert_eq!(verify_value(&value), Ok(()));

        // With fixed auxiliary data, BIP-340 signing is deterministic.
        let mut again = fixed_result(&keys);
        sign_value_with_aux(&mut again, &keys, &[0u8; 32]).unwrap();
        assert_eq!(again[SIGNATURE_FIELD].as_str().unwrap(), signature);
    }

    #[test]
    fn random_aux_signatures_all_verify() {
        let keys = test_keys();
        let mut first = fixed_result(&keys);
        let mut second = fixed_result(&keys);
        sign_value(&mut first, &keys).unwrap();
        sign_value(&mut second, &keys).unwrap();
        assert_eq!(verify_value(&first), Ok(()));
        assert_eq!(verify_value(&second), Ok(()));
    }

    #[test]
    fn tampered_field_fails() {
        let keys = test_keys();
        let mut value = fixed_result(&keys);
        sign_value(&mut value, &keys).unwrap();
        value["steps"][0]["status"] = json!("success");
        assert_eq!(
            verify_value(&value),
            Err(VerifyError::Mismatch {
                npub: npub_of(&keys)
            })
        );
    }

    #[test]
    fn added_field_fails() {
        let keys = test_keys();
        let mut value = fixed_result(&keys);
        sign_value(&mut value, &keys).unwrap();
        value["extra"] = json!(true);
        assert!(matches!(
            verify_value(&value),
            Err(VerifyError::Mismatch { .. })
        ));
    }

    #[test]
    fn reordered_keys_still_verify() {
        let keys = test_keys();
        let mut value = fixed_result(&keys);
        sign_value(&mut value, &keys).unwrap();
        let text = serde_json::to_string(&value).unwrap();
        let mut map: serde_json::Map<String, Value> = serde_json::from_str(&text).unwrap();
        map.sort_keys();
        let reordered = Value::Object(map.into_iter().rev().collect());
        assert_eq!(verify_value(&reordered), Ok(()));
    }

    #[test]
    fn swapped_runner_npub_fails() {
        let keys = test_keys();
        let mut value = fixed_result(&keys);
        sign_value(&mut value, &keys).unwrap();
        value[RUNNER_NPUB_FIELD] = json!(npub_of(&other_keys()));
        assert_eq!(
            verify_value(&value),
            Err(VerifyError::Mismatch {
                npub: npub_of(&other_keys())
            })
        );
    }

    #[test]
    fn signed_by_other_key_fails() {
        let keys = test_keys();
        let other = other_keys();
        let mut value = fixed_result(&other);
        sign_value(&mut value, &other).unwrap();
        let signature = value[SIGNATURE_FIELD].clone();

        let mut claimed = fixed_result(&keys);
        claimed[SIGNATURE_FIELD] = signature;
        assert!(matches!(
            verify_value(&claimed),
            Err(VerifyError::Mismatch { .. })
        ));
    }

    #[test]
    fn sign_rejects_wrong_runner_npub() {
        let keys = test_keys();
        let mut value = fixed_result(&other_keys());
        let error = sign_value(&mut value, &keys).unwrap_err();
        assert_eq!(
            error,
            SignError::WrongRunnerNpub {
                in_document: npub_of(&other_keys()),
                signer: npub_of(&keys),
            }
        );
    }

    #[test]
    fn sign_rejects_missing_runner_npub() {
        let mut value = json!({"status": "success"});
        assert_eq!(
            sign_value(&mut value, &test_keys()),
            Err(SignError::MissingRunnerNpub)
        );
        let mut array = json!([1, 2]);
        assert_eq!(
            sign_value(&mut array, &test_keys()),
            Err(SignError::NotAnObject { found: "an array" })
        );
    }

    #[test]
    fn verify_reports_missing_signature() {
        let mut value = fixed_result(&test_keys());
        value.as_object_mut().unwrap().remove(SIGNATURE_FIELD);
        assert_eq!(verify_value(&value), Err(VerifyError::MissingSignature));
    }

    #[test]
    fn verify_reports_bad_hex() {
        let mut value = fixed_result(&test_keys());
        value[SIGNATURE_FIELD] = json!("abc");
        assert_eq!(
            verify_value(&value),
            Err(VerifyError::BadSignatureHex {
                reason: "found 3 characters".to_string()
            })
        );
        value[SIGNATURE_FIELD] = json!("G".repeat(128));
        assert_eq!(
            verify_value(&value),
            Err(VerifyError::BadSignatureHex {
                reason: "found the character 'G'".to_string()
            })
        );
        value[SIGNATURE_FIELD] = json!(42);
        assert_eq!(
            verify_value(&value),
            Err(VerifyError::BadSignatureHex {
                reason: "found a number".to_string()
            })
        );
    }

    #[test]
    fn verify_reports_invalid_npub() {
        let keys = test_keys();
        let mut value = fixed_result(&keys);
        sign_value(&mut value, &keys).unwrap();
        value[RUNNER_NPUB_FIELD] = json!("npub1notvalid");
        assert!(matches!(
            verify_value(&value),
            Err(VerifyError::InvalidNpub { .. })
        ));
        value[RUNNER_NPUB_FIELD] = json!(keys.public_key().to_hex());
        assert!(matches!(
            verify_value(&value),
            Err(VerifyError::InvalidNpub { .. })
        ));
        value.as_object_mut().unwrap().remove(RUNNER_NPUB_FIELD);
        assert_eq!(verify_value(&value), Err(VerifyError::MissingRunnerNpub));
    }

    #[test]
    fn error_messages_name_the_reason() {
        assert_eq!(
            VerifyError::MissingSignature.to_string(),
            "missing signature: the result has no \"signature\" field"
        );
        assert!(
            VerifyError::Mismatch {
                npub: "npub1x".to_string()
            }
            .to_string()
            .starts_with("signature does not match the content")
        );
    }
}
