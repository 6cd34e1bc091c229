//! Argon2id as the shop runs it: the `argon2` crate's own algorithm and
//! parameters (its defaults: 19 MiB, 2 passes, 1 lane), hashing into memory
//! mapped for each hash ([`HashMemory`]) instead of a fresh `Vec` the crate
//! zero-fills first. The PHC strings are the same either way, so stored hashes
//! verify as before; verification is the `password_hash` crate's own
//! (constant-time comparison of the outputs).

use argon2::password_hash::{
    self, Decimal, Ident, Output, ParamsString, PasswordHash, PasswordHasher, Salt,
};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::memory::HashMemory;

/// The hasher: `MappedArgon2.hash_password(…)`, `MappedArgon2.verify_password(…)`.
#[derive(Debug, Clone, Copy, Default)]
pub struct MappedArgon2;

/// The most a stored hash may ask for (its memory in KiB, passes, lanes).
/// Every hash the shop writes takes 19 MiB, 2 passes and 1 lane; a hash that
/// asks for far more (a hostile or corrupt record) is refused, not run: it
/// could take gigabytes or hold a thread for hours.
const MAX_M_COST: u32 = 256 * 1024;
const MAX_T_COST: u32 = 16;
const MAX_P_COST: u32 = 8;

impl PasswordHasher for MappedArgon2 {
    type Params = Params;

    fn hash_password_customized<'a>(
        &self,
        password: &[u8],
        algorithm: Option<Ident<'a>>,
        version: Option<Decimal>,
        params: Params,
        salt: impl Into<Salt<'a>>,
    ) -> password_hash::Result<PasswordHash<'a>> {
        let algorithm = algorithm
            .map(Algorithm::try_from)
            .transpose()?
            .unwrap_or_default();
        let version = version
            .map(Version::try_from)
            .transpose()?
            .unwrap_or_default();
        if params.m_cost() > MAX_M_COST
            || params.t_cost() > MAX_T_COST
            || params.p_cost() > MAX_P_COST
        {
            return Err(password_hash::Error::ParamValueInvalid(
                password_hash::errors::InvalidValue::TooLong,
            ));
        }
        let salt = salt.into();
        let mut salt_bytes = [0u8; Salt::MAX_LENGTH];
        let salt_bytes = salt.decode_b64(&mut salt_bytes)?;
        let output_len = params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN);
        let mut memory =
            HashMemory::new(params.block_count()).ok_or(password_hash::Error::Crypto)?;
        let argon = Argon2::new(algorithm, version, params.clone());
        let output = Output::init_with(output_len, |out| {
            Ok(argon.hash_password_into_with_memory(password, salt_bytes, out, memory.blocks())?)
        })?;
        Ok(PasswordHash {
            algorithm: algorithm.ident(),
            version: Some(version.into()),
            params: ParamsString::try_from(&params)?,
            salt: Some(salt),
            hash: Some(output),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::password_hash::rand_core::OsRng;
    use argon2::password_hash::{PasswordVerifier, SaltString};

    const RIGHT: &[u8] = b"correct horse battery staple";

    #[test]
    fn hashes_are_the_crates_own_both_ways() {
        let salt = SaltString::generate(&mut OsRng);
        let ours = MappedArgon2.hash_password(RIGHT, &salt).unwrap();
        let theirs = Argon2::default().hash_password(RIGHT, &salt).unwrap();
        // The same string: algorithm, version, parameters, salt and output.
        assert_eq!(ours.to_string(), theirs.to_string());
        assert!(
            ours.to_string()
                .starts_with("$argon2id$v=19$m=19456,t=2,p=1$")
        );
        for (ours_verifies, hash) in [(true, &theirs), (false, &ours)] {
            let check = |password: &[u8]| {
                if ours_verifies {
                    MappedArgon2.verify_password(password, hash).is_ok()
                } else {
                    Argon2::default().verify_password(password, hash).is_ok()
                }
            };
            assert!(check(RIGHT));
            assert!(!check(b"correct horse battery stapl"));
        }
    }

    #[test]
    fn a_stored_hash_of_other_parameters_verifies_with_them() {
        let params = Params::new(1024, 1, 1, None).unwrap();
        let small = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let salt = SaltString::generate(&mut OsRng);
        let hash = small.hash_password(RIGHT, &salt).unwrap();
        assert!(MappedArgon2.verify_password(RIGHT, &hash).is_ok());
        assert!(MappedArgon2.verify_password(b"wrong", &hash).is_err());
    }

    #[test]
    fn other_algorithms_versions_and_lengths_hash_as_the_crate_does() {
        let salt = SaltString::generate(&mut OsRng);
        for (algorithm, version, output) in [
            (Algorithm::Argon2d, Version::V0x10, 64),
            (Algorithm::Argon2i, Version::V0x13, 16),
        ] {
            let params = Params::new(512, 2, 2, Some(output)).unwrap();
            let theirs = Argon2::new(algorithm, version, params.clone())
                .hash_password(RIGHT, &salt)
                .unwrap();
            let ours = MappedArgon2
                .hash_password_customized(
                    RIGHT,
                    Some(algorithm.ident()),
                    Some(version.into()),
                    params,
                    &salt,
                )
                .unwrap();
            assert_eq!(ours.to_string(), theirs.to_string());
            assert!(MappedArgon2.verify_password(RIGHT, &theirs).is_ok());
        }
    }

    #[test]
    fn a_stored_hash_asking_for_too_much_is_refused_unrun() {
        // 4 GiB, or 100 passes: the record is refused before any memory is mapped.
        for costs in ["m=4194304,t=2,p=1", "m=19456,t=100,p=1"] {
            let hostile = format!(
                "$argon2id$v=19${costs}$bUdBNJHzX9BFiRWm8Br5wA$K7T5hS6OeEWn4g93YXMzM8PO43dgqJFDaEAg7uEtN8o"
            );
            let hash = PasswordHash::new(&hostile).unwrap();
            assert!(MappedArgon2.verify_password(RIGHT, &hash).is_err());
        }
    }

    #[test]
    fn the_blocks_are_zeroed_and_writable() {
        let mut memory = HashMemory::new(2048).unwrap();
        let blocks = memory.blocks();
        assert_eq!(blocks.len(), 2048);
        assert!(
            blocks
                .iter()
                .all(|b| b.as_ref().iter().all(|&word| word == 0))
        );
        blocks[2047].as_mut()[127] = 7;
        assert_eq!(memory.blocks()[2047].as_ref()[127], 7);
    }
}
