//! Helpers shared by the binary's integration tests.

use std::io::{BufRead, BufReader};
use std::process::Child;
use std::time::Duration;

/// The address a started `kubepulse serve` listens on, read from the first line of its stdout (within
/// 60 s). The rest of its stdout keeps being drained so the server never blocks on a full pipe.
#[allow(dead_code)]
pub fn served_address(child: &mut Child) -> String {
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let line = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("serve prints its address within 60 s");
    line.split("http://")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_owned()
}

/// A started `kubepulse serve`, killed when the test ends, however it ends.
#[allow(dead_code)]
pub struct Server(pub Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
