//! A small deterministic mutation fuzzer for tollgate's parsers, on the
//! stable toolchain (libFuzzer needs nightly and would rebuild wasmtime
//! with its instrumentation: too slow for CI here). Inputs are the corpus
//! files of a target, mutated by byte edits and by splicing in the
//! dictionary's tokens; not coverage-guided, so the corpus and dictionary
//! carry the structure.
//!
//! `TOLLGATE_FUZZ_ITERS` (default 3000) inputs per target, or
//! `TOLLGATE_FUZZ_SECONDS` of running; `TOLLGATE_FUZZ_SEED` picks the
//! sequence (the default is fixed, so CI runs are repeatable). A failing
//! input is written to `$TMPDIR/tollgate-fuzz-failures/TARGET-N` and printed.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    pub fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

/// Bytes that sit on the edges of HTTP, TOML and rule grammars.
const EDGE_BYTES: &[u8] = b" \t\r\n:;,=\"'%\\/.?#[]{}()<>@*+-_0123456789aAfFxX\x00\x01\x7f\x80\xff";

/// Mutate `input` with 1 to 4 edits; `dictionary` tokens get spliced in.
pub fn mutate(rng: &mut Rng, input: &[u8], dictionary: &[&[u8]]) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(out.len() + 1);
        match rng.below(8) {
            0 if !out.is_empty() => {
                let i = rng.below(out.len());
                out[i] = EDGE_BYTES[rng.below(EDGE_BYTES.len())];
            }
            1 => out.insert(at, EDGE_BYTES[rng.below(EDGE_BYTES.len())]),
            2 if !out.is_empty() => {
                let end = (at + 1 + rng.below(8)).min(out.len());
                out.drain(at.min(end)..end);
            }
            3 if !dictionary.is_empty() => {
                let token = dictionary[rng.below(dictionary.len())];
                out.splice(at..at, token.iter().copied());
            }
            4 => {
                // Repeat a line: duplicate headers, repeated lengths.
                if let Some((s, e)) = line_at(&out, at) {
                    let line = out[s..e].to_vec();
                    out.splice(e..e, line);
                }
            }
            5 if !out.is_empty() => {
                let i = rng.below(out.len());
                out[i] ^= 1 << rng.below(8);
            }
            6 => out.truncate(at),
            _ => {
                if let Some((s, e)) = line_at(&out, at) {
                    out.drain(s..e);
                }
            }
        }
    }
    out
}

/// The line (with its LF) around position `at`.
fn line_at(bytes: &[u8], at: usize) -> Option<(usize, usize)> {
    if bytes.is_empty() {
        return None;
    }
    let at = at.min(bytes.len() - 1);
    let start = bytes[..at]
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let end = bytes[at..]
        .iter()
        .position(|&b| b == b'\n')
        .map_or(bytes.len(), |i| at + i + 1);
    Some((start, end))
}

/// The corpus of `target`: every file in `tests/fuzz/corpus/TARGET/`.
pub fn corpus(target: &str) -> Vec<Vec<u8>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .find(|p| p.join("tests/fuzz/corpus").is_dir())
        .expect("tests/fuzz/corpus above the crate");
    let dir = root.join("tests/fuzz/corpus").join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("corpus {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let seeds: Vec<Vec<u8>> = files.iter().map(|f| std::fs::read(f).unwrap()).collect();
    assert!(!seeds.is_empty(), "empty corpus {}", dir.display());
    seeds
}

/// Run `check` on every corpus file, then on mutated inputs until the
/// budget is spent. `check` panics (with a message) on a property broken.
pub fn run(target: &str, dictionary: &[&[u8]], mut check: impl FnMut(&[u8])) -> usize {
    let seeds = corpus(target);
    let iters: usize = env_number("TOLLGATE_FUZZ_ITERS").unwrap_or(3000);
    let deadline =
        env_number("TOLLGATE_FUZZ_SECONDS").map(|s| Instant::now() + Duration::from_secs(s as u64));
    let mut rng = Rng::new(env_number("TOLLGATE_FUZZ_SEED").unwrap_or(0x7011_6a7e) as u64);
    let mut done = 0;
    let mut pool = seeds.clone();
    for seed in &seeds {
        guarded(target, done, seed, &mut check);
        done += 1;
    }
    loop {
        match deadline {
            Some(d) if Instant::now() >= d => break,
            None if done >= iters + seeds.len() => break,
            _ => {}
        }
        let base = pool[rng.below(pool.len())].clone();
        let input = mutate(&mut rng, &base, dictionary);
        guarded(target, done, &input, &mut check);
        // Keep some mutants as bases: edits compound.
        if pool.len() < 256 && rng.below(8) == 0 {
            pool.push(input);
        }
        done += 1;
    }
    done
}

fn guarded(target: &str, n: usize, input: &[u8], check: &mut impl FnMut(&[u8])) {
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(input)));
    if let Err(panic) = result {
        let dir = std::env::temp_dir().join("tollgate-fuzz-failures");
        let _ = std::fs::create_dir_all(&dir);
        let file = dir.join(format!("{target}-{n}"));
        let _ = std::fs::write(&file, input);
        let why = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        panic!(
            "{target}: input {n} broke a property ({why}); saved as {}:\n{:?}",
            file.display(),
            String::from_utf8_lossy(input)
        );
    }
}

fn env_number(name: &str) -> Option<usize> {
    std::env::var(name).ok()?.parse().ok()
}
