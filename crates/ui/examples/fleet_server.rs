//! Serves the UI over a synthetic fleet (`benches/support/synthetic.rs`), for measuring the page in a
//! browser at fleet scale (`bench/ui/first-render.sh`).
//!
//! `cargo run -p ui --example fleet_server -- [TARGETS] [LISTEN]` (defaults: 5000, 127.0.0.1:0);
//! prints `listening on http://ADDR` once the fleet is built, and serves until killed.

use std::sync::Arc;

#[path = "../benches/support/synthetic.rs"]
mod synthetic;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let targets: usize = args.next().as_deref().unwrap_or("5000").parse()?;
    let listen = args.next().unwrap_or_else(|| "127.0.0.1:0".to_string());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs() as i64;
    let built = std::time::Instant::now();
    let history = Arc::new(synthetic::fleet_of(targets, now));
    let feedback = Arc::new(ui::FeedbackStore::new(ui::FeedbackConfig::default())?);
    let app: axum::Router = ui::router(ui::UiState::new(history, feedback));
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    eprintln!(
        "{targets} targets, {} cycles of history, built in {:.1} s",
        synthetic::CYCLES,
        built.elapsed().as_secs_f64()
    );
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}
