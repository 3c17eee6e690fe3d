//! [`Verifier`]: checks a presented session token, with a positive cache (verified tokens until
//! `exp`) and a negative cache (refused tokens), against keys from a [`KeySource`].
//!
//! ```text
//! verify(token)
//!   check::split      length ≤ 8 KiB, base64url alphabet, three segments   ─ else Invalid
//!   SHA-256(token) ─▶ sessions (positive cache) ─ hit: re-check exp ─▶ Ok / Expired
//!                 ─▶ refused  (negative cache) ─ hit ─▶ the remembered rejection
//!   check::header     alg ∈ allowed (EdDSA, ES256), kid present
//!   keys[kid]         unknown: refresh the source (single-flight, rate-limited), retry once
//!   key alg == header alg, check::signature_ok, check::claims, iss/aud/nbf/exp
//! ```

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use arc_swap::ArcSwap;
use jsonwebtoken::DecodingKey;
use sha2::{Digest, Sha256};

use super::claims::SessionClaims;
use super::error::{TokenError, TokenRejection};
use super::jwks::Jwks;
use super::key::KeyAlgorithm;
use cache::{ShardedCache, TokenHash};
use check::Parts;

mod cache;
mod check;
mod config;
mod source;

pub use config::{KeySource, VerifierConfig};

/// A token that passed verification: its claims and the SHA-256 of the token string (a safe
/// handle for logs and per-token state; the token itself is never kept).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedSession {
    /// The verified claims.
    pub claims: SessionClaims,
    /// SHA-256 of the whole token string.
    pub token_hash: [u8; 32],
}

/// Counters since the verifier was created.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VerifierStats {
    /// Tokens answered from the positive cache.
    pub cache_hits: u64,
    /// Tokens that went through full verification.
    pub cache_misses: u64,
    /// Tokens answered from the negative cache.
    pub negative_hits: u64,
    /// Signature verifications run.
    pub signature_checks: u64,
    /// Key-source refreshes triggered by an unknown `kid`.
    pub key_refreshes: u64,
}

#[derive(Default)]
struct Counters {
    cache_hits: AtomicU64,
    cache_misses: AtomicU64,
    negative_hits: AtomicU64,
    signature_checks: AtomicU64,
    key_refreshes: AtomicU64,
}

struct VerificationKey {
    alg: KeyAlgorithm,
    decoding: DecodingKey,
    raw: Vec<u8>,
}

type KeyMap = HashMap<String, VerificationKey>;

struct CachedSession {
    session: Arc<VerifiedSession>,
    kid: Arc<str>,
}

/// A refusal, and whether it may be remembered in the negative cache. Unknown-`kid` and
/// not-yet-valid (`nbf`) refusals can become acceptances later, so they are not remembered.
struct Refusal {
    rejection: TokenRejection,
    remember: bool,
}

impl Refusal {
    const INVALID: Refusal = Refusal {
        rejection: TokenRejection::Invalid,
        remember: true,
    };
    const EXPIRED: Refusal = Refusal {
        rejection: TokenRejection::Expired,
        remember: true,
    };
    const INVALID_FOR_NOW: Refusal = Refusal {
        rejection: TokenRejection::Invalid,
        remember: false,
    };
}

struct Verified {
    session: Arc<VerifiedSession>,
    kid: Arc<str>,
    generation: u64,
}

/// Verifies session tokens. Cheap to share (`Arc<Verifier>`); every method takes `&self`.
pub struct Verifier {
    issuer: String,
    audience: String,
    algorithms: Vec<KeyAlgorithm>,
    leeway: u64,
    source: KeySource,
    http: Option<reqwest::Client>,
    refresh_interval: Duration,
    keys: ArcSwap<KeyMap>,
    /// Bumped on every key-set change; cache inserts made under older keys are dropped.
    key_generation: AtomicU64,
    sessions: ShardedCache<CachedSession>,
    refused: ShardedCache<TokenRejection>,
    last_refresh: tokio::sync::Mutex<Option<Instant>>,
    /// The latest wall-clock second seen: time never runs backwards for `exp` checks.
    clock: AtomicU64,
    counters: Counters,
}

impl Verifier {
    /// Validates `config` and loads the keys once.
    ///
    /// # Errors
    /// [`TokenError::Config`] for an empty issuer, audience or algorithm list, a bad URL or a
    /// missing rustls provider (URL source); the source's error if the first load fails.
    pub async fn new(config: VerifierConfig) -> Result<Verifier, TokenError> {
        if config.issuer.is_empty() || config.audience.is_empty() {
            return Err(TokenError::Config(
                "issuer and audience must be non-empty".to_owned(),
            ));
        }
        if config.algorithms.is_empty() {
            return Err(TokenError::Config(
                "at least one algorithm must be allowed".to_owned(),
            ));
        }
        let http = source::http_client(&config.keys)?;
        let jwks = source::load(&config.keys, http.as_ref()).await?;
        if jwks.is_empty() {
            tracing::warn!(
                "the session-token key source holds no usable key; every token is refused"
            );
        }
        Ok(Verifier {
            issuer: config.issuer,
            audience: config.audience,
            algorithms: config.algorithms,
            leeway: config.leeway.as_secs(),
            source: config.keys,
            http,
            refresh_interval: config.unknown_kid_refresh_interval,
            keys: ArcSwap::from_pointee(key_map(jwks)),
            key_generation: AtomicU64::new(0),
            sessions: ShardedCache::new(config.cache_capacity),
            refused: ShardedCache::new(config.negative_cache_capacity),
            last_refresh: tokio::sync::Mutex::new(None),
            clock: AtomicU64::new(0),
            counters: Counters::default(),
        })
    }

    /// Verifies a token. A cached token costs one SHA-256, one lookup and an `exp` check.
    ///
    /// # Errors
    /// [`TokenRejection::Expired`] for a correctly signed token past `exp` + leeway;
    /// [`TokenRejection::Invalid`] for everything else that is not a valid token.
    pub async fn verify(&self, token: &str) -> Result<Arc<VerifiedSession>, TokenRejection> {
        let Some(parts) = check::split(token) else {
            return Err(TokenRejection::Invalid);
        };
        let hash: TokenHash = Sha256::digest(token.as_bytes()).into();
        let now = self.now();
        if let Some(answer) = self.cached(&hash, now) {
            return answer;
        }
        if let Some(rejection) = self.refused.lookup(&hash, |rejection| *rejection) {
            self.counters.negative_hits.fetch_add(1, Ordering::Relaxed);
            return Err(rejection);
        }
        self.counters.cache_misses.fetch_add(1, Ordering::Relaxed);
        let generation = self.key_generation.load(Ordering::SeqCst);
        match self.verify_uncached(&parts, hash, now).await {
            Ok(verified) => {
                let entry = CachedSession {
                    session: Arc::clone(&verified.session),
                    kid: verified.kid,
                };
                self.sessions.insert_if(
                    hash,
                    entry,
                    || self.key_generation.load(Ordering::SeqCst) == verified.generation,
                    |cached| self.expired(cached.session.claims.exp, now),
                );
                Ok(verified.session)
            }
            Err(refusal) => {
                if refusal.remember {
                    let current = || self.key_generation.load(Ordering::SeqCst) == generation;
                    self.refused
                        .insert_if(hash, refusal.rejection, current, |_| false);
                }
                Err(refusal.rejection)
            }
        }
    }

    fn cached(
        &self,
        hash: &TokenHash,
        now: u64,
    ) -> Option<Result<Arc<VerifiedSession>, TokenRejection>> {
        let session = self
            .sessions
            .lookup(hash, |cached| Arc::clone(&cached.session))?;
        if self.expired(session.claims.exp, now) {
            self.sessions.remove(hash);
            self.refused
                .insert_if(*hash, TokenRejection::Expired, || true, |_| false);
            return Some(Err(TokenRejection::Expired));
        }
        self.counters.cache_hits.fetch_add(1, Ordering::Relaxed);
        Some(Ok(session))
    }

    async fn verify_uncached(
        &self,
        parts: &Parts<'_>,
        hash: TokenHash,
        now: u64,
    ) -> Result<Verified, Refusal> {
        let header = check::header(parts, &self.algorithms).ok_or(Refusal::INVALID)?;
        let (mut generation, mut keys) = self.current_keys();
        if !keys.contains_key(&header.kid) {
            drop(keys);
            if !self.refresh_for(&header.kid).await {
                return Err(Refusal::INVALID_FOR_NOW);
            }
            (generation, keys) = self.current_keys();
        }
        let key = keys.get(&header.kid).ok_or(Refusal::INVALID_FOR_NOW)?;
        if key.alg != header.alg {
            return Err(Refusal::INVALID);
        }
        self.counters
            .signature_checks
            .fetch_add(1, Ordering::Relaxed);
        if !check::signature_ok(parts, &key.decoding, header.alg) {
            return Err(Refusal::INVALID);
        }
        let claims = check::claims(parts).ok_or(Refusal::INVALID)?;
        self.check_claims(&claims, now)?;
        Ok(Verified {
            session: Arc::new(VerifiedSession {
                claims,
                token_hash: hash,
            }),
            kid: Arc::from(header.kid),
            generation,
        })
    }

    fn check_claims(&self, claims: &SessionClaims, now: u64) -> Result<(), Refusal> {
        if claims.first_empty_required().is_some()
            || claims.iss != self.issuer
            || claims.aud != self.audience
        {
            return Err(Refusal::INVALID);
        }
        if let Some(nbf) = claims.nbf
            && nbf > now.saturating_add(self.leeway)
        {
            return Err(Refusal::INVALID_FOR_NOW);
        }
        if self.expired(claims.exp, now) {
            return Err(Refusal::EXPIRED);
        }
        Ok(())
    }

    fn expired(&self, exp: u64, now: u64) -> bool {
        now >= exp.saturating_add(self.leeway)
    }

    /// Wall-clock seconds, never less than a value already seen: a clock stepped backwards
    /// cannot revive an expired token.
    fn now(&self) -> u64 {
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let seen = self.clock.load(Ordering::Relaxed);
        if wall <= seen {
            return seen;
        }
        self.clock.fetch_max(wall, Ordering::Relaxed).max(wall)
    }

    /// Moves this verifier's clock forward (tests only).
    #[cfg(test)]
    pub(crate) fn advance_clock(&self, secs: u64) {
        let now = self.now();
        self.clock
            .fetch_max(now.saturating_add(secs), Ordering::Relaxed);
    }

    fn current_keys(&self) -> (u64, Arc<KeyMap>) {
        let generation = self.key_generation.load(Ordering::SeqCst);
        (generation, self.keys.load_full())
    }

    /// Re-reads the key source for an unknown `kid`: single-flight (waiters share the refresh
    /// in progress) and at most once per refresh interval. Whether `kid` is now known.
    async fn refresh_for(&self, kid: &str) -> bool {
        if matches!(self.source, KeySource::Static(_)) {
            return false;
        }
        let mut last = self.last_refresh.lock().await;
        if self.keys.load().contains_key(kid) {
            return true;
        }
        let started = Instant::now();
        if let Some(at) = *last
            && started.saturating_duration_since(at) < self.refresh_interval
        {
            return false;
        }
        *last = Some(started);
        self.counters.key_refreshes.fetch_add(1, Ordering::Relaxed);
        match source::load(&self.source, self.http.as_ref()).await {
            Ok(jwks) if jwks.is_empty() => {
                tracing::warn!(
                    "session-token key refresh found no usable key; keeping the current keys"
                );
            }
            Ok(jwks) => {
                let count = self.install(jwks);
                tracing::info!(
                    keys = count,
                    "session-token keys refreshed after an unknown kid"
                );
            }
            Err(error) => {
                tracing::warn!(
                    %error,
                    "session-token key refresh failed; keeping the current keys"
                );
            }
        }
        self.keys.load().contains_key(kid)
    }

    /// Replaces the key set with a JWKS document (the control plane's push). Cached tokens
    /// whose key is unchanged stay cached; the others and the negative cache are dropped.
    /// Returns the number of keys now in use.
    ///
    /// # Errors
    /// [`TokenError::Jwks`] if the document is invalid or holds no usable key; the current
    /// keys then stay in force.
    pub fn replace_keys(&self, jwks: &serde_json::Value) -> Result<usize, TokenError> {
        let jwks = Jwks::parse(jwks)?;
        if jwks.is_empty() {
            return Err(TokenError::Jwks(
                "no usable key; keeping the current keys".to_owned(),
            ));
        }
        Ok(self.install(jwks))
    }

    fn install(&self, jwks: Jwks) -> usize {
        let new = Arc::new(key_map(jwks));
        let count = new.len();
        let old = self.keys.swap(Arc::clone(&new));
        let unchanged = old.len() == new.len() && old.keys().all(|kid| same_key(&old, &new, kid));
        if !unchanged {
            self.key_generation.fetch_add(1, Ordering::SeqCst);
            self.refused.clear();
            self.sessions
                .retain(|cached| same_key(&old, &new, &cached.kid));
        }
        count
    }

    /// The number of keys in use.
    pub fn key_count(&self) -> usize {
        self.keys.load().len()
    }

    /// The counters so far.
    pub fn stats(&self) -> VerifierStats {
        let read = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        VerifierStats {
            cache_hits: read(&self.counters.cache_hits),
            cache_misses: read(&self.counters.cache_misses),
            negative_hits: read(&self.counters.negative_hits),
            signature_checks: read(&self.counters.signature_checks),
            key_refreshes: read(&self.counters.key_refreshes),
        }
    }
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("algorithms", &self.algorithms)
            .field("keys", &self.key_count())
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

fn key_map(jwks: Jwks) -> KeyMap {
    jwks.into_keys()
        .into_iter()
        .map(|key| {
            let decoding = key.decoding_key();
            (
                key.kid,
                VerificationKey {
                    alg: key.alg,
                    decoding,
                    raw: key.raw,
                },
            )
        })
        .collect()
}

fn same_key(old: &KeyMap, new: &KeyMap, kid: &str) -> bool {
    match (old.get(kid), new.get(kid)) {
        (Some(a), Some(b)) => a.alg == b.alg && a.raw == b.raw,
        _ => false,
    }
}

#[cfg(test)]
mod tests;
