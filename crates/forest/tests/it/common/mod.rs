//! Small seeded datasets for the tests.
#![allow(dead_code)]

use forest::{ForestParams, Matrix};
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::{Rng, SeedableRng};

pub fn rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

pub fn uniform(r: &mut ChaCha8Rng) -> f64 {
    (r.next_u64() >> 11) as f64 / (1u64 << 53) as f64
}

/// Roughly standard normal (sum of 12 uniforms).
pub fn normal(r: &mut ChaCha8Rng) -> f64 {
    (0..12).map(|_| uniform(r)).sum::<f64>() - 6.0
}

/// `n` rows, `nf` features; class depends on features 0 and 1 with noise; `minority` is the share of
/// class 1 (class 0 otherwise); `nan_rate` of cells are NaN.
pub fn dataset(seed: u64, n: usize, nf: usize, minority: f64, nan_rate: f64) -> (Matrix, Vec<f64>) {
    let mut r = rng(seed);
    let mut x = Vec::with_capacity(n * nf);
    let mut y = Vec::with_capacity(n);
    for _ in 0..n {
        let class = if uniform(&mut r) < minority { 1.0 } else { 0.0 };
        for f in 0..nf {
            let shift = if f < 2 { class * 1.5 } else { 0.0 };
            let v = normal(&mut r) + shift;
            x.push(if uniform(&mut r) < nan_rate {
                f32::NAN
            } else {
                v as f32
            });
        }
        y.push(class);
    }
    (Matrix::new(x, n, nf).expect("shape"), y)
}

/// Three well-separated classes (labels 2, 5, 7) on 3 features.
pub fn three_classes(seed: u64, n: usize) -> (Matrix, Vec<f64>) {
    let mut r = rng(seed);
    let labels = [2.0, 5.0, 7.0];
    let mut x = Vec::new();
    let mut y = Vec::new();
    for i in 0..n {
        let c = i % 3;
        x.push((c as f64 * 3.0 + normal(&mut r) * 0.5) as f32);
        x.push(normal(&mut r) as f32);
        x.push((c as f64 - normal(&mut r)) as f32);
        y.push(labels[c]);
    }
    (Matrix::new(x, n, 3).expect("shape"), y)
}

pub fn small_params() -> ForestParams {
    ForestParams {
        n_trees: 20,
        seed: 7,
        ..ForestParams::default()
    }
}

pub fn accuracy(pred: &[f64], y: &[f64]) -> f64 {
    pred.iter().zip(y).filter(|(p, t)| p == t).count() as f64 / y.len() as f64
}

pub fn recall(pred: &[f64], y: &[f64], class: f64) -> f64 {
    let actual = y.iter().filter(|t| **t == class).count() as f64;
    let tp = pred
        .iter()
        .zip(y)
        .filter(|(p, t)| **p == class && **t == class)
        .count() as f64;
    tp / actual
}

/// Rows `range` of `x` as a new matrix.
pub fn rows(x: &Matrix, range: std::ops::Range<usize>) -> Matrix {
    let nf = x.n_features();
    let n = range.len();
    Matrix::new(x.values()[range.start * nf..range.end * nf].to_vec(), n, nf).expect("shape")
}

/// `original` with each `(position, mask)` XORed in (positions wrap around) and then cut to `cut` bytes
/// (wrapping too): the damaged model file of the "never panics" property tests.
#[allow(dead_code)]
pub fn damaged(original: &[u8], flips: &[(usize, u8)], cut: usize) -> Vec<u8> {
    let mut bytes = original.to_vec();
    for (pos, mask) in flips {
        let i = pos % bytes.len();
        bytes[i] ^= mask;
    }
    bytes.truncate(cut % (bytes.len() + 1));
    bytes
}
