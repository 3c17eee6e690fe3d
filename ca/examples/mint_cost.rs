//! Prints what a cold leaf mint costs (P-256 key generation + signing + rustls key load).
//! Run: `cargo run --release -p trust-ca --example mint_cost`.

use std::time::{Duration, Instant};
use trust_ca::{Authority, CaOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join(format!("trust-ca-mint-cost-{}", std::process::id()));
    let ca = Authority::load_or_create(&dir, &CaOptions::default())?;
    let rounds = 500u32;
    let start = Instant::now();
    for i in 0..rounds {
        ca.mint(&format!("host{i}.example.com"), Duration::from_secs(86_400))?;
    }
    let each = start.elapsed() / rounds;
    println!("cold mint: {each:?} per leaf over {rounds} leaves");
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
