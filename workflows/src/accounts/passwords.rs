//! Password hashes: argon2id PHC strings, computed with working memory that each hashing
//! thread keeps, so that the memory of hashing is bounded by the number of hashing threads
//! (see [`super::login::PasswordWork`] for how many there are).

use std::cell::RefCell;

use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString, rand_core::OsRng};
use argon2::{Algorithm, Argon2, Block, Params, Version};

use thiserror::Error;

/// A hash could not be computed (argon2 refused its parameters or output).
#[derive(Debug, Error)]
#[error("password hashing failed: {0}")]
pub struct HashError(String);

fn hash_error(e: impl std::fmt::Display) -> HashError {
    HashError(e.to_string())
}

thread_local! {
    /// argon2's working memory (19 MiB with the default parameters), kept by each thread that
    /// hashes and reused for its next hash. Allocated and freed per hash, it would not go back
    /// to the system: glibc raises its mmap threshold after the first such free and keeps the
    /// next blocks in the thread's arena, several per thread. Kept here, a hashing thread holds
    /// exactly one, so memory is a function of the number of hashing threads.
    static WORKING_MEMORY: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

/// The most memory a stored hash may make a thread hold (KiB): 4 × the default.
const MAX_M_COST_KIB: u32 = 4 * Params::DEFAULT_M_COST;

fn argon2_into(
    argon2: &Argon2<'_>,
    password: &[u8],
    salt: &[u8],
    out: &mut [u8],
) -> Result<(), argon2::Error> {
    let needed = argon2.params().block_count();
    WORKING_MEMORY.with_borrow_mut(|blocks| {
        if blocks.len() < needed {
            blocks.resize(needed, Block::default());
        }
        argon2.hash_password_into_with_memory(password, salt, out, &mut blocks[..needed])
    })
}

/// Argon2id hash of a password, as a PHC string. CPU-heavy: call through
/// [`super::login::PasswordWork`] (or a blocking thread outside the server).
pub fn hash_password(password: &str) -> Result<String, HashError> {
    let salt = SaltString::generate(&mut OsRng);
    let argon2 = Argon2::default();
    let mut salt_buffer = [0u8; 64];
    let salt_bytes = salt.as_salt().decode_b64(&mut salt_buffer).map_err(hash_error)?;
    let output = Output::init_with(Params::DEFAULT_OUTPUT_LEN, |out| {
        Ok(argon2_into(&argon2, password.as_bytes(), salt_bytes, out)?)
    })
    .map_err(hash_error)?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(argon2.params()).map_err(hash_error)?,
        salt: Some(salt.as_salt()),
        hash: Some(output),
    };
    Ok(phc.to_string())
}

/// Whether `password` matches the stored PHC hash (any argon2 variant and version, memory up
/// to 4 × the default). CPU-heavy, like [`hash_password`].
pub fn verify_password(password: &str, stored: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(stored) else { return false };
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else { return false };
    let Ok(algorithm) = Algorithm::try_from(parsed.algorithm) else { return false };
    let Ok(version) = parsed.version.map(Version::try_from).transpose() else { return false };
    let Ok(params) = Params::try_from(&parsed) else { return false };
    if params.m_cost() > MAX_M_COST_KIB {
        return false;
    }
    let mut salt_buffer = [0u8; 64];
    let Ok(salt_bytes) = salt.decode_b64(&mut salt_buffer) else { return false };
    let argon2 = Argon2::new(algorithm, version.unwrap_or_default(), params);
    let computed = Output::init_with(expected.len(), |out| {
        Ok(argon2_into(&argon2, password.as_bytes(), salt_bytes, out)?)
    });
    // Output compares in constant time.
    computed.is_ok_and(|computed| computed == expected)
}

/// A password outside the one rule for passwords people choose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("password must be 8 to 128 characters")]
pub struct Unacceptable;

/// A password someone chose (a merchant's, an operator's): 8 to 128 characters.
pub fn acceptable(raw: &str) -> Result<&str, Unacceptable> {
    if (8..=128).contains(&raw.chars().count()) { Ok(raw) } else { Err(Unacceptable) }
}

/// A password for a generated account: 16 characters without look-alikes (~80 bits).
pub fn generate_password() -> String {
    use rand::Rng as _;
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyz23456789";
    let mut rng = rand::rng();
    (0..16).map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords() {
        let hash = hash_password("correct horse").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &hash));
        assert!(!verify_password("wrong horse", &hash));
        assert!(!verify_password("correct horse", "not a hash"));
    }

    /// Hashes made by the argon2 crate's own API (all stored before) verify here, and the
    /// other way round.
    #[test]
    fn hashes_are_the_standard_phc_strings() {
        use argon2::password_hash::{PasswordHasher, PasswordVerifier};
        let salt = SaltString::generate(&mut OsRng);
        let theirs = Argon2::default().hash_password(b"correct horse", &salt).unwrap().to_string();
        assert!(verify_password("correct horse", &theirs));
        assert!(!verify_password("wrong horse", &theirs));
        let ours = hash_password("correct horse").unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(Argon2::default().verify_password(b"correct horse", &parsed).is_ok());
        // A stored hash cannot make a thread hold more than 4 × the default memory.
        let greedy = Params::new(MAX_M_COST_KIB + 8, 1, 1, None).unwrap();
        let salt = SaltString::generate(&mut OsRng);
        let greedy = Argon2::new(Algorithm::Argon2id, Version::V0x13, greedy)
            .hash_password(b"correct horse", &salt)
            .unwrap()
            .to_string();
        assert!(!verify_password("correct horse", &greedy));
    }
}
